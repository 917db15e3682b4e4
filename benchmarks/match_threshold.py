"""Enrolment match threshold on faces-dev: false accepts and false rejects.

Enrolment compares the face in the recording with the centroid of the person's photo group.
Simulated on faces-dev's labelled photos: for each photo, its embedding stands in for the
recording; genuine trials compare it with the centroid of the same person's *other* photos
(leave one out), impostor trials with the centroid of every other person's photos.

    .venv/bin/python benchmarks/match_threshold.py
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from PIL import Image

from _common import read_labels, require_faces_dev


def main() -> None:
    from likeness.faces.backends import load_backend

    root = require_faces_dev()
    backend = load_backend()
    threshold = backend.distances.same_person
    by_person: dict[str, list[np.ndarray]] = defaultdict(list)
    for path, person in read_labels(root).items():
        faces = backend.analyze(np.asarray(Image.open(path).convert("RGB")))
        if faces:
            largest = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
            by_person[person].append(largest.embedding)
    genuine, impostor = [], []
    for person, embs in by_person.items():
        for i, e in enumerate(embs):
            others = [x for j, x in enumerate(embs) if j != i]
            if others:
                genuine.append(float(np.linalg.norm(e - np.mean(others, axis=0))))
            for other, other_embs in by_person.items():
                if other != person:
                    impostor.append(float(np.linalg.norm(e - np.mean(other_embs, axis=0))))
    genuine_a, impostor_a = np.array(genuine), np.array(impostor)
    print(
        f"faces-dev: {len(by_person)} people, {len(genuine)} genuine and {len(impostor)} "
        "impostor trials"
    )
    print(
        f"genuine distance max {genuine_a.max():.3f}, impostor distance min {impostor_a.min():.3f}"
    )
    print(f"{'threshold':>9} {'false accept':>13} {'false reject':>13}")
    for t in sorted({0.40, 0.45, 0.50, threshold, 0.60}):
        far = (impostor_a < t).mean()
        frr = (genuine_a >= t).mean()
        mark = "  <- the backend's same_person distance" if t == threshold else ""
        print(f"{t:>9.2f} {far:>12.2%} {frr:>12.2%}{mark}")


if __name__ == "__main__":
    main()
