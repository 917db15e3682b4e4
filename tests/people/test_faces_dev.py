"""Grouping quality on the real labelled photos of ../shared/data/faces-dev."""

import csv
import sys
from pathlib import Path

from likeness.faces.listing import list_faces
from likeness.importing import import_photos
from likeness.people.manage import recluster

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _common import bcubed


def _largest_faces(lib) -> dict[str, dict]:
    best: dict[str, dict] = {}
    for f in list_faces(lib):
        area = (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1])
        path = str(Path(f["photo"]).resolve())
        if path not in best or area > best[path]["area"]:
            best[path] = {**f, "area": area}
    return best


def test_bcubed_on_faces_dev_meets_the_target_incrementally_and_after_recluster(lib, faces_dev):
    import_photos(lib, faces_dev)
    with open(faces_dev / "labels.csv", newline="") as f:
        labels = {str((faces_dev / r["path"]).resolve()): r["person"] for r in csv.DictReader(f)}
    best = _largest_faces(lib)
    assert set(labels) <= set(best), "a labelled photo has no face"
    truth = {best[p]["id"]: person for p, person in labels.items()}
    for stage in ("incremental", "recluster"):
        if stage == "recluster":
            recluster(lib)
        predicted = {f["id"]: f["person"] for f in list_faces(lib)}
        precision, recall, f1 = bcubed(predicted, truth)
        assert precision >= 0.98 and f1 >= 0.95, (stage, precision, recall, f1)


def test_bcubed_scores_known_cases():
    truth = {1: "a", 2: "a", 3: "b"}
    assert bcubed({1: 7, 2: 7, 3: 8}, truth) == (1.0, 1.0, 1.0)
    p, r, _ = bcubed({1: 7, 2: 7, 3: 7}, truth)  # everything merged
    assert r == 1.0 and abs(p - 5 / 9) < 1e-9
    p, r, _ = bcubed({}, truth)  # everything unassigned: singletons
    assert p == 1.0 and abs(r - 2 / 3) < 1e-9
