"""Shared helpers for the benchmark scripts (not part of the package)."""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

FACES_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-dev"


def require_faces_dev() -> Path:
    if not (FACES_DEV / "labels.csv").exists():
        sys.exit(
            f"faces-dev not found at {FACES_DEV}: this benchmark needs ../shared/data/faces-dev"
        )
    return FACES_DEV


def read_labels(root: Path) -> dict[str, str]:
    """{absolute photo path: person} from labels.csv."""
    with open(root / "labels.csv", newline="") as f:
        return {str((root / row["path"]).resolve()): row["person"] for row in csv.DictReader(f)}


def bcubed(
    predicted: dict[object, object], truth: dict[object, object]
) -> tuple[float, float, float]:
    """BCubed precision, recall and F over the items in ``truth``.

    ``predicted[item]`` is a cluster label; an item without one (unassigned) is its own
    singleton cluster.
    """
    items = list(truth)
    pred = {i: predicted.get(i) if predicted.get(i) is not None else ("single", i) for i in items}
    by_pred: dict[object, list] = defaultdict(list)
    by_true: dict[object, list] = defaultdict(list)
    for i in items:
        by_pred[pred[i]].append(i)
        by_true[truth[i]].append(i)
    precision = recall = 0.0
    for i in items:
        same_pred = by_pred[pred[i]]
        same_true = by_true[truth[i]]
        both = sum(1 for j in same_pred if truth[j] == truth[i])
        precision += both / len(same_pred)
        recall += both / len(same_true)
    precision /= len(items)
    recall /= len(items)
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f
