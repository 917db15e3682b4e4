"""The depth pairs whole sessions measured, measured again with the depth code as it is now.

``benchmarks/liveness.py --keep-pairs DIR`` keeps every pair of frames each clip's verdict
measured depth on (the neutral and turned face regions, the face box, the motion directions
and, since liveness-24, the roll between them, by transcript entry). The depth check chooses
no frame: which frames a turn is measured on is decided by the poses alone. So measuring the
kept pairs again under changed depth code gives exactly the depth figures the changed code
would give those sessions (pairs kept before liveness-24 are replayed without their roll,
which none of the synthetic heads' turns had past ``depth.ROLL_UNDONE_DEGREES``), in a
fraction of the time (a pair takes about 0.34 s since liveness-23, 0.20 before, one process
on 2 cores; rendering and reading a session about 12 s), and a change can be judged on many
sessions of every head and print before whole runs confirm it.

For each folder and case it prints the clips measured for depth, the depth figure
(``verdict.depth_score``: 1 is the bar) as kept and as measured now, the smallest for honest
clips and the largest for attacks, honest clips now under the bar, attacks that met every
pose now over it (they would go on to the face match), the time a pair takes now, and the
largest roll between a pair's frames (kept since liveness-24: past
``depth.ROLL_UNDONE_DEGREES`` the turned frame is turned back before tracking) with how many
pairs were turned back. ``--without-rolls`` measures them with none turned back, as up to
liveness-23: what turning back gives heads that tilt (``liveness.py --tilt``).

    .venv/bin/python benchmarks/liveness_replay.py DIR [DIR ...] [--workers N] [--without-rolls]
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from collections import defaultdict
from functools import partial
from multiprocessing import get_context
from pathlib import Path


def _measure(path: str, rolls: bool = True) -> dict:
    """One kept clip: its depth figure as kept and as measured now (``rolls``: False
    measures every pair as if its frames had not rolled, as up to liveness-23), and the time
    taken."""
    from likeness.consent.depth import ROLL_UNDONE_DEGREES, turn_depth
    from likeness.consent.liveness.verdict import depth_score

    try:
        with open(path, "rb") as fh:
            clip = pickle.load(fh)
        transcript, pairs = clip["transcript"], clip["pairs"]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a clip kept by liveness.py --keep-pairs ({exc!r})") from None
    now = [dict(e) for e in transcript]
    kept_rolls = [abs(p["roll"]) for measured in pairs for p in measured if "roll" in p]
    start, count = time.perf_counter(), 0
    for entry, measured in zip(now, pairs, strict=True):
        if len(measured) != len(entry.get("reliefs_px", [])):
            raise ValueError(f"{path}: the kept pairs are not the ones its transcript measured")
        if not measured:
            continue
        # Pairs kept before liveness-24 have no roll: the check passed none then.
        reliefs = [
            turn_depth(
                p["before"],
                p["after"],
                p["face_box"],
                p["expected"],
                p.get("roll", 0.0) if rolls else 0.0,
            )[1]
            for p in measured
        ]
        count += len(reliefs)
        entry["reliefs_px"] = [round(r, 2) for r in reliefs]
    return dict(
        name=clip["name"],
        case=clip["case"],
        passed=clip["passed"],
        depth_short=clip["depth_short"],
        kept=depth_score(transcript),
        now=depth_score(now),
        pairs=count,
        seconds=time.perf_counter() - start,
        largest_roll=max(kept_rolls, default=None),
        turned_back=sum(r > ROLL_UNDONE_DEGREES for r in kept_rolls) if rolls else 0,
    )


def _figures(clips: list[dict], honest: bool) -> str:
    measured = [c for c in clips if c["kept"] is not None]
    if not measured:
        return "no clip measured for depth"
    pick = min if honest else max
    kept = pick(measured, key=lambda c: c["kept"])
    now = pick(measured, key=lambda c: c["now"])
    word = "smallest" if honest else "largest"
    text = (
        f"{len(measured)} measured; {word} depth figure kept {kept['kept']:.2f} ({kept['name']}), "
        f"now {now['now']:.2f} ({now['name']})"
    )
    if honest:
        under = [c for c in measured if c["passed"] and c["now"] < 1.0]
        return text + f"; passing clips now under the bar: {len(under)}"
    met = [c for c in measured if c["passed"] or c["depth_short"]]
    over = [c for c in met if c["now"] >= 1.0]
    return text + f"; of {len(met)} that met every pose, now over the bar: {len(over)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", help="folders written by liveness.py --keep-pairs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--without-rolls",
        action="store_true",
        help="measure every pair as if its frames had not rolled (no frame turned back, as "
        "up to liveness-23): what turning back gives the sessions kept",
    )
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    import cv2

    from likeness.consent.depth import ROLL_UNDONE_DEGREES

    # OpenCV's own threads off: each process's ``turn_depth`` runs its five trackings in
    # threads already.
    cv2.setNumThreads(1)
    for folder in args.folders:
        paths = sorted(str(p) for p in Path(folder).glob("*.pkl"))
        if not paths:
            raise SystemExit(f"{folder}: no kept clips (benchmarks/liveness.py --keep-pairs)")
        with get_context("fork").Pool(args.workers) as pool:
            try:
                clips = pool.map(partial(_measure, rolls=not args.without_rolls), paths)
            except ValueError as exc:  # raised in a worker, named here
                raise SystemExit(str(exc)) from None
        by_case: dict[str, list[dict]] = defaultdict(list)
        for clip in clips:
            by_case[clip["case"]].append(clip)
        pairs = sum(c["pairs"] for c in clips)
        seconds = sum(c["seconds"] for c in clips)
        rolls = [c["largest_roll"] for c in clips if c["largest_roll"] is not None]
        rolled = ""
        if rolls:
            back = sum(c["turned_back"] for c in clips)
            rolled = (
                f"; largest roll between a pair's frames {max(rolls):.1f} degrees (turned back "
                f"past {ROLL_UNDONE_DEGREES:g}: "
                + ("none, --without-rolls)" if args.without_rolls else f"{back} pairs)")
            )
        elif pairs:
            rolled = "; kept before liveness-24, without rolls"
        print(
            f"{folder}: {len(clips)} clips, {pairs} pairs, {seconds / max(pairs, 1):.3f} s a pair"
            + rolled
        )
        for case, those in sorted(by_case.items()):
            print(f"  {case:28s} {len(those):4d} clips: {_figures(those, case == 'honest')}")


if __name__ == "__main__":
    main()
