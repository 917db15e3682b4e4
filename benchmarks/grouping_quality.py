"""Grouping quality on ../shared/data/faces-dev: BCubed precision/recall/F against labels.csv.

Imports the whole faces-dev folder (single-person photos, group photos, hard cases) into a fresh
library with the real importer, so the figure is what a user gets. Each labelled photo is
scored by the person assigned to its largest face. The baseline is dlib's Chinese-whispers
clustering (threshold 0.5) on the very same embeddings, as in face_recognition's examples.

    .venv/bin/python benchmarks/grouping_quality.py [--recluster]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from _common import bcubed, read_labels, require_faces_dev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recluster", action="store_true", help="also score a full re-cluster")
    args = parser.parse_args()
    import dlib

    from likeness.faces.listing import list_faces
    from likeness.faces.tables import Face
    from likeness.importing import import_photos
    from likeness.people.manage import recluster
    from likeness.store import Library

    root = require_faces_dev()
    truth_by_path = read_labels(root)
    with tempfile.TemporaryDirectory() as home:
        lib = Library.open(Path(home))
        report = import_photos(lib, root)
        faces = list_faces(lib)

        def largest_face_per_photo(rows):
            best: dict[str, dict] = {}
            for f in rows:
                area = (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1])
                path = str(Path(f["photo"]).resolve())
                if path not in best or area > best[path]["area"]:
                    best[path] = {**f, "area": area}
            return best

        best = largest_face_per_photo(faces)
        truth = {best[p]["id"]: person for p, person in truth_by_path.items() if p in best}
        missed = sorted(set(truth_by_path) - set(best))
        ours = {f["id"]: f["person"] for f in faces}
        p, r, f1 = bcubed(ours, truth)
        print(
            f"faces-dev: {report.added} photos, {report.faces} faces; "
            f"{len(truth)}/{len(truth_by_path)} labelled photos have a face"
        )
        for m in missed:
            print(f"  no face found in labelled photo {m}")
        print(f"likeness incremental     precision {p:.3f}  recall {r:.3f}  F {f1:.3f}")
        if args.recluster:
            recluster(lib)
            ours_full = {f["id"]: f["person"] for f in list_faces(lib)}
            p2, r2, f2 = bcubed(ours_full, truth)
            print(f"likeness full recluster  precision {p2:.3f}  recall {r2:.3f}  F {f2:.3f}")
        with lib.session() as s:
            rows = s.query(Face.id, Face.embedding).order_by(Face.id).all()
        ids = [r[0] for r in rows]
        vectors = [
            dlib.vector(np.frombuffer(r[1], dtype=np.float32).astype(float).tolist()) for r in rows
        ]
        labels = dlib.chinese_whispers_clustering(vectors, 0.5)
        baseline = dict(zip(ids, labels, strict=True))
        bp, br, bf = bcubed(baseline, truth)
        print(f"baseline chinese-whispers precision {bp:.3f}  recall {br:.3f}  F {bf:.3f}")
        print(
            f"target: F >= 0.95 with precision >= 0.98 -> "
            f"{'met' if f1 >= 0.95 and p >= 0.98 else 'NOT met'}"
        )
        lib.close()


if __name__ == "__main__":
    main()
