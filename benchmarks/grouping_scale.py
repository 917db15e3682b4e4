"""Grouping at scale: full re-cluster and incremental assignment on synthetic embeddings.

Synthetic 128-d embeddings with the spread of dlib's: people's centres ~0.9 apart, faces
~0.4 from each other within a person (as on faces-dev: same-person links up to ~0.5,
different people from ~0.7), 15% low-quality faces with 1.6x the spread, photos with several
faces, and a long tail of people sizes (a few people with thousands of faces, most with few)
plus 10% strangers seen once. Each size runs in a fresh subprocess so its peak memory (max RSS)
is its own.

    .venv/bin/python benchmarks/grouping_scale.py [--sizes 100000 1000000]

Targets on 2 cores: 1M full re-cluster <= 5 min and <= 4 GiB; incremental <= 5 ms a face.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from _common import bcubed

CENTRE_DISTANCE = 0.9
FACE_DISTANCE = 0.4


def synthetic_library(n: int, seed: int = 0):
    """(embeddings, photo ids, true person per face), roughly n faces."""
    rng = np.random.default_rng(seed)
    dim = 128
    strangers = n // 10
    sizes = np.minimum(rng.zipf(1.6, size=n), 5000)
    sizes = sizes[np.cumsum(sizes) <= n - strangers]
    sizes = np.append(sizes, np.ones(n - strangers - sizes.sum(), dtype=int))
    sizes = np.append(sizes, np.ones(strangers, dtype=int))
    people = len(sizes)
    truth = np.repeat(np.arange(people), sizes)
    sigma_c = CENTRE_DISTANCE / np.sqrt(2 * dim)
    sigma_f = FACE_DISTANCE / np.sqrt(2 * dim)
    centres = rng.normal(0, sigma_c, size=(people, dim)).astype(np.float32)
    noise = rng.normal(0, sigma_f, size=(n, dim)).astype(np.float32)
    noise[rng.random(n) < 0.15] *= 1.6
    embeddings = centres[truth] + noise
    order = rng.permutation(n)
    embeddings, truth = embeddings[order], truth[order]
    # Photos: 70% of faces alone in their photo, the rest in photos of 2-6 faces.
    photo_ids = np.arange(n)
    grouped = np.flatnonzero(rng.random(n) < 0.3)
    photo_ids[grouped] = n + grouped // 4
    return embeddings, photo_ids, truth


def run_one(n: int) -> dict:
    from likeness.people.grouping import IncrementalGrouper, cluster_embeddings

    embeddings, photo_ids, truth = synthetic_library(n)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    labels = cluster_embeddings(embeddings, photo_ids)
    full_s = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    sample = np.random.default_rng(1).choice(n, min(n, 100_000), replace=False)
    precision, recall, f = bcubed(
        {int(i): int(labels[i]) if labels[i] >= 0 else None for i in sample},
        {int(i): int(truth[i]) for i in sample},
    )
    # Incremental: hold out 2,000 faces, group the rest, then add the held-out ones one by one.
    held = np.random.default_rng(2).choice(n, 2000, replace=False)
    keep = np.setdiff1d(np.arange(n), held)
    start = time.perf_counter()
    grouper = IncrementalGrouper(embeddings[keep], keep, photo_ids[keep], labels[keep])
    build_s = time.perf_counter() - start
    counter = iter(range(10**9, 2 * 10**9))
    start = time.perf_counter()
    for i in held.tolist():
        grouper.assign(i + 10**8, int(photo_ids[i]), embeddings[i], lambda: next(counter))
    per_face_ms = (time.perf_counter() - start) / len(held) * 1000
    return {
        "faces": n,
        "people_true": int((np.bincount(truth) >= 2).sum()),  # people with 2+ faces
        "people_found": len(np.unique(labels[labels >= 0])),
        "unassigned": int((labels < 0).sum()),
        "full_recluster_s": round(full_s, 1),
        "peak_rss_gib": round(peak_gib, 2),
        "rss_after_data_gib": round(rss_data, 2),
        "bcubed_precision": round(precision, 4),
        "bcubed_recall": round(recall, 4),
        "bcubed_f": round(f, 4),
        "incremental_index_build_s": round(build_s, 1),
        "incremental_ms_per_face": round(per_face_ms, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    print(
        f"{'faces':>9} {'full s':>7} {'peak GiB':>9} {'ms/face':>8} {'precision':>9} "
        f"{'recall':>7} {'people':>15}"
    )
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True
        )
        if out.returncode:
            sys.exit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['faces']:>9} {r['full_recluster_s']:>7} {r['peak_rss_gib']:>9} "
            f"{r['incremental_ms_per_face']:>8} {r['bcubed_precision']:>9} "
            f"{r['bcubed_recall']:>7} {r['people_found']:>7}/{r['people_true']:<7}"
        )
        print("          " + json.dumps(r))
    print("targets at 1M: full <= 300 s, <= 4 GiB, incremental <= 5 ms/face")


if __name__ == "__main__":
    main()
