"""Liveness on synthetic clips rendered from every faces-dev person: false accepts/rejects.

For each labelled person (first photo, scaled so the face is 180 px wide, as in a selfie
video), with a fresh random session: one honest clip (head turns rendered with parallax) and
five attacks (a still photo; a flat print turned to mimic each pose; a replay of another
session's order; a face swapped mid-clip; another person). Honest clips should all pass,
attacks all fail.

    .venv/bin/python benchmarks/liveness.py [--people N]

The clips are synthetic (tests/consent/clips.py); thresholds await real camera footage.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from _common import read_labels, require_faces_dev  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=None)
    args = parser.parse_args()
    from tests.consent import clips

    from likeness.consent.liveness import enrolment_backend, new_session, verify_clip

    backend = enrolment_backend()
    firsts: dict[str, str] = {}
    for path, person in sorted(read_labels(require_faces_dev()).items()):
        firsts.setdefault(person, path)
    prepared = {}
    for person, path in list(firsts.items())[: args.people]:
        try:
            prepared[person] = clips.enrolment_sized(Image.open(path), backend)
        except ValueError as exc:
            print(f"  {person}: skipped ({exc})")
    names = list(prepared)
    counts: Counter = Counter()
    for i, person in enumerate(names):
        pixels, face = prepared[person]
        other_name = names[(i + 1) % len(names)]
        other = prepared[other_name]
        session, earlier = new_session(), new_session()
        while [c.kind for c in earlier.challenges] == [c.kind for c in session.challenges]:
            earlier = new_session()
        cases = {
            "honest": clips.honest_frames(pixels, face.landmarks, session),
            "still photo": clips.still_frames(pixels, session),
            "flat print turned": clips.flat_photo_frames(pixels, session),
            "replayed order": clips.honest_frames(pixels, face.landmarks, earlier),
            "face swapped": clips.swapped_frames(
                (pixels, face.landmarks),
                (other[0], other[1].landmarks),
                session,
                session.challenges[1].start,
            ),
            "other person": clips.honest_frames(other[0], other[1].landmarks, session),
        }
        for case, frames in cases.items():
            result = verify_clip(frames, session, backend, face.embedding[None, :])
            wrong = result.passed != (case == "honest")
            counts[(case, "wrong" if wrong else "right")] += 1
            if wrong:
                print(f"  {person}: {case} -> {'passed' if result.passed else result.reason}")
    print(f"{len(names)} people, one random session each")
    print(f"{'clip':<20}{'clips':>6}{'wrong':>7}")
    for case in (
        "honest",
        "still photo",
        "flat print turned",
        "replayed order",
        "face swapped",
        "other person",
    ):
        total = counts[(case, "right")] + counts[(case, "wrong")]
        print(f"{case:<20}{total:>6}{counts[(case, 'wrong')]:>7}")
    fr = counts[("honest", "wrong")]
    fa = sum(v for (c, k), v in counts.items() if c != "honest" and k == "wrong")
    print(f"false rejects {fr} of {len(names)}; false accepts {fa} of {5 * len(names)}")


if __name__ == "__main__":
    main()
