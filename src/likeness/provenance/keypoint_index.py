"""The search index over stored outputs' corners: which outputs a copy may be.

Each stored output's strongest corners (``keypoints.INDEXED``) go into a faiss HNSW graph
over their 256-bit descriptors, labelled with the output's watermark id. A copy's corners
each look up their nearest stored corner; outputs that several of them land on are the
candidates, and ``keypoints.match`` decides. A linear scan would compare every corner of the
copy with every stored corner (100,000 outputs are 3.2 million); the graph visits a few
hundred.

The catalog is the truth (``tables.OutputKeypoints``); the index is a cache of it in the
vault (``provenance-keypoints.faiss``), with the last catalog row it holds written beside it.
Opening it adds the rows stored since, so an index that is missing, stale or from another
process's run is brought up to date, never trusted blindly; it is saved again once it has
fallen ``SAVE_AFTER`` outputs behind. A file whose last row is not the catalog's (a catalog
restored from a backup) is rebuilt. A deleted output's corners stay in the graph until a
rebuild, harmless: candidates are read back from the catalog, and one that is gone is not a
match.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import select

from likeness.provenance import keypoints
from likeness.provenance.tables import OutputKeypoints
from likeness.store import Library

#: HNSW's graph degree, and how wide its searches and insertions look.
LINKS = 16
SEARCH_WIDTH = 32
BUILD_WIDTH = 40
#: A copy's corner counts as landing on a stored one within this many bits (48 put the
#: right output first more often with 100,000 stored, 64 within the first 8 as often, and
#: gives a noisy picture's copy enough votes: 8 or more where 48 gave as few as 2).
NEAR_BITS = 64
#: The copy's strongest corners looked up (each way: as it is and mirrored back). The
#: stored side holds only each output's strongest, which the copy's strongest meet; more
#: would mostly land near unrelated outputs (with 100,000 stored, 150 put the right output
#: first 92% of the time and 500 69%; ``benchmarks/provenance_robustness.py``).
SEARCHED = 200
#: Outputs at most checked geometrically per copy, and the corners that must land on one.
CANDIDATES = 8
MIN_VOTES = 2
#: Save the index once opening it had to add this many outputs.
SAVE_AFTER = 1000
FILE = "provenance-keypoints.faiss"
FORMAT = 1


class KeypointIndex:
    """The corner index of one library, kept up to date with its catalog."""

    def __init__(self, lib: Library) -> None:
        import faiss

        self.lib = lib
        self.path = lib.vault / FILE
        self.seq = 0  # the last catalog row in the index, and its output's watermark id
        self.last: int | None = None
        self.unsaved = 0
        self._lock = threading.Lock()
        self.index = self._load() or faiss.IndexBinaryIDMap(self._graph())

    @staticmethod
    def _graph():
        import faiss

        graph = faiss.IndexBinaryHNSW(256, LINKS)
        graph.hnsw.efConstruction = BUILD_WIDTH
        graph.hnsw.efSearch = SEARCH_WIDTH
        return graph

    def _load(self):
        """The saved index, if it is whole, of the expected kind and built from this catalog;
        else None (rebuilt from the catalog)."""
        import faiss

        state = self.path.with_suffix(".json")
        try:
            saved = json.loads(state.read_text())
            seq, last = saved["seq"], saved["last"]
            if saved["format"] != FORMAT or type(seq) is not int or seq < 0:
                return None
            if (last is None) != (seq == 0) or (last is not None and type(last) is not int):
                return None
            index = faiss.read_index_binary(str(self.path))
            graph = faiss.downcast_IndexBinary(index.index)
            if not isinstance(index, faiss.IndexBinaryIDMap) or not isinstance(
                graph, faiss.IndexBinaryHNSW
            ):
                return None
            if seq == 0 and index.ntotal:
                return None  # corners that no catalog row accounts for
        except Exception:  # missing, damaged or foreign: rebuilt from the catalog
            return None
        if seq:
            with self.lib.session() as s:
                found = s.scalar(
                    select(OutputKeypoints.watermark_id).where(OutputKeypoints.seq == seq)
                )
            if found != last:
                return None  # the catalog is not the one it was built from (a restored backup)
        self.seq, self.last = seq, last
        graph.hnsw.efSearch = SEARCH_WIDTH
        return index

    def refresh(self) -> None:
        """Add the outputs stored since the index was last brought up to date."""
        with self._lock:
            with self.lib.session() as s:
                rows = s.execute(
                    select(
                        OutputKeypoints.seq,
                        OutputKeypoints.watermark_id,
                        OutputKeypoints.descriptors,
                    )
                    .where(OutputKeypoints.seq > self.seq)
                    .order_by(OutputKeypoints.seq)
                ).all()
            if not rows:
                return
            self.add([(mark, bytes(blob)) for _, mark, blob in rows])
            self.seq, self.last = rows[-1][0], rows[-1][1]
            self.unsaved += len(rows)
            if self.unsaved >= SAVE_AFTER:
                self.save()

    def add(self, outputs: list[tuple[int, bytes]]) -> None:
        """Put (watermark id, stored descriptors) in the graph: the strongest ``INDEXED``."""
        codes, labels = [], []
        for mark, blob in outputs:
            strongest = np.frombuffer(blob, np.uint8).reshape(-1, 32)[: keypoints.INDEXED]
            codes.append(strongest)
            labels.append(np.full(len(strongest), mark, np.int64))
        if codes:
            self.index.add_with_ids(np.concatenate(codes), np.concatenate(labels))

    def save(self) -> None:
        """Write the index and the last row it holds, under a lock so that two processes'
        saves cannot pair one's index with the other's row number."""
        import faiss

        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            part = self.path.with_suffix(".part")
            faiss.write_index_binary(self.index, str(part))
            os.replace(part, self.path)
            state = self.path.with_suffix(".json.part")
            state.write_text(json.dumps({"format": FORMAT, "seq": self.seq, "last": self.last}))
            os.replace(state, self.path.with_suffix(".json"))
        self.unsaved = 0

    def candidates(
        self, as_is: keypoints.Keypoints, mirrored: keypoints.Keypoints
    ) -> list[tuple[int, bool]]:
        """The stored outputs most of a copy's strongest corners land on, best first: (watermark
        id, whether it was the copy mirrored back that landed there)."""
        queries = [as_is.descriptors[:SEARCHED], mirrored.descriptors[:SEARCHED]]
        if not sum(map(len, queries)) or self.index.ntotal == 0:
            return []
        with self._lock:
            bits, labels = self.index.search(np.concatenate(queries), 1)
        flipped = np.arange(len(bits)) >= len(queries[0])
        near = (bits[:, 0] <= NEAR_BITS) & (labels[:, 0] >= 0)
        votes = Counter(zip(labels[near, 0].tolist(), flipped[near].tolist(), strict=True))
        return [key for key, n in votes.most_common(CANDIDATES) if n >= MIN_VOTES]


#: The indexes loaded in this process, by catalog, the most recently used last; a server
#: has one library, a test run many, so only the last few are kept.
_open: dict[Path, KeypointIndex] = {}
_opening = threading.Lock()
KEPT_OPEN = 4


def keypoint_index(lib: Library) -> KeypointIndex:
    """This library's index, loaded once per process and brought up to date on each call."""
    with _opening:
        index = _open.pop(lib.catalog_path, None)
        if index is None or index.lib.engine is not lib.engine:
            index = KeypointIndex(lib)
        _open[lib.catalog_path] = index
        while len(_open) > KEPT_OPEN:
            del _open[next(iter(_open))]
    index.refresh()
    return index
