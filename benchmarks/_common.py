"""Shared helpers for the benchmark scripts (not part of the package)."""

from __future__ import annotations

import csv
import sys
from collections import Counter
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
    singleton cluster. Computed from the contingency counts, so it is linear in the items.
    """
    items = list(truth)
    if not items:
        return 0.0, 0.0, 0.0
    pred = {i: predicted.get(i) if predicted.get(i) is not None else ("single", i) for i in items}
    pair = Counter((pred[i], truth[i]) for i in items)
    per_pred = Counter(pred[i] for i in items)
    per_true = Counter(truth[i] for i in items)
    # Each of the n_pt items in a (pred, true) cell has precision n_pt/n_p and recall n_pt/n_t.
    precision = sum(n * n / per_pred[p] for (p, _), n in pair.items()) / len(items)
    recall = sum(n * n / per_true[t] for (_, t), n in pair.items()) / len(items)
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f


def trained_astronaut(tmp: Path, scope: str):
    """A library of the astronaut with a tiny-sd15 adapter trained under an attested grant
    that also covers ``scope`` (a generation scope), the adapter exported as a plain
    diffusers LoRA file: (library, person id, exported file, adapter info). What the overhead
    benchmarks compare a bare diffusers pipeline with."""
    from likeness.adapters.curation import CurationRules
    from likeness.adapters.export import authorize_export, export_adapter
    from likeness.adapters.manage import latest_adapter
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.consent.grants import Scope, Trust, issue_grant
    from likeness.store import Library
    from likeness.testing.libraries import astronaut_library

    home, person = astronaut_library(tmp)
    lib = Library.open(home)
    scopes = [Scope.TRAIN_ADAPTER, Scope(scope), Scope.EXPORT_ADAPTER]
    issue_grant(lib, person, scopes, Trust.ATTESTED)
    train_adapter(
        lib,
        authorize_training(lib, person, "tiny-sd15"),
        person,
        "tiny-sd15",
        TrainingParams(steps=20, learning_rate=1e-3),
        rules=CurationRules(min_photos=2),
    )
    exported = export_adapter(
        lib, authorize_export(lib, person), person, "diffusers", tmp / "lora.safetensors"
    )
    return lib, person, exported, latest_adapter(lib, person, "tiny-sd15")


def one_face_pose(backend, image, poses=None):
    """The head pose (``faces.headpose.HeadPose``) of the one face ``backend`` finds in
    ``image``, read by ``poses`` (a ``faces.headpose.PoseReader``; default its 5 landmarks
    against the generic face); None unless exactly one face is found."""
    from likeness.faces.headpose import LandmarkPoses

    found = backend.analyze(image)
    if len(found) != 1:
        return None
    return (poses or LandmarkPoses())(image, found[0])
