"""Live enrolment over the server's WebSocket: does the check keep up with a camera at
640x480, and do honest live sessions pass?

The server (uvicorn, the real app, on loopback) serves a library with Alice (the astronaut's
photos). For each of ``--sessions`` live sessions, a client plays a person in front of the
page (``likeness.testing.clips.LivePerson``: frames rendered from the astronaut photo, cropped to
640x480, turning towards each prompt a reaction time after it arrives), encodes each frame as
the page does (JPEG, quality 0.9), sends it with its time, and waits for the answer before
sending the next (as the page does). Prints, per session and overall: the verdict, frames
checked, the time from sending a frame to its answer (decode, detection, landmarks,
embedding, the checks, loopback), and what that sustains against cameras at 15 and 30
frames a second; then the same with every frame scanned whole (the baseline for tracking
the face, ``faces.tracking``). Rendering the person's frames is the client's cost and is
not counted.

    .venv/bin/python benchmarks/live_enrolment.py [--sessions 3]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import struct
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

PASSPHRASE = "live enrolment benchmark"


def _camera_frame(pixels) -> bytes:
    """The person's frame as the page sends it: 640x480, JPEG at quality 0.9."""
    from PIL import Image

    from likeness.testing.clips import camera_sized

    out = io.BytesIO()
    Image.fromarray(camera_sized(pixels)).save(out, "JPEG", quality=90)
    return out.getvalue()


def _session(url: str, alice: int, person) -> dict:
    """One live enrolment; its verdict and the answer time of each frame."""
    import httpx
    from websockets.sync.client import connect

    from likeness.server.sessions import COOKIE_NAME, CSRF_HEADER

    with httpx.Client(base_url=url, timeout=60) as http:
        csrf = http.post("/api/sign-in", json={"passphrase": PASSPHRASE}).json()["csrf_token"]
        session = http.post(
            f"/api/people/{alice}/enrolment/live", headers={CSRF_HEADER: csrf}
        ).json()["session"]
        cookie = http.cookies[COOKIE_NAME]
    ws_url = url.replace("http", "ws") + f"/api/people/{alice}/enrolment/live/{session}?csrf={csrf}"
    answers: list[float] = []
    with connect(
        ws_url,
        additional_headers={"Cookie": f"{COOKIE_NAME}={cookie}", "Origin": url},
        max_size=None,
    ) as ws:
        assert json.loads(ws.recv()) == {"ready": True}
        started = time.monotonic()
        while True:
            t = time.monotonic() - started
            frame = _camera_frame(person.frame(t))
            sent = time.perf_counter()
            ws.send(struct.pack("<d", t) + frame)
            message = json.loads(ws.recv())
            answers.append(time.perf_counter() - sent)
            if "prompt" in message:
                prompt = SimpleNamespace(**message["prompt"])
                person.see(time.monotonic() - started, prompt)
                if prompt.kind != "done":
                    continue
                message = json.loads(ws.recv())
            return {"verdict": message["verdict"], "answers": answers}


def _print_session(label: str, run: dict) -> None:
    answers = sorted(run["answers"])
    v = run["verdict"]
    print(
        f"{label}: {'passed' if v['passed'] else 'REFUSED: ' + v['reason']}; "
        f"{len(answers)} frames, answer p50 {statistics.median(answers) * 1000:.0f} ms, "
        f"p95 {answers[int(0.95 * (len(answers) - 1))] * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()

    from likeness.consent.enrolment import open_live_enrolment
    from likeness.server import create_app
    from likeness.server import enrolment as enrolment_routes
    from likeness.server.owner import set_owner_passphrase
    from likeness.store import Library
    from likeness.testing import clips
    from likeness.testing.libraries import two_people_library
    from likeness.testing.photos import astronaut
    from likeness.testing.server import served_on_loopback

    work = Path(tempfile.mkdtemp(prefix="likeness-live-"))
    try:
        home, alice, _ = two_people_library(work / "built")
        lib = Library.open(home)
        set_owner_passphrase(lib, PASSPHRASE)
        pixels, face = clips.prepared(astronaut())
        runs: dict[str, list[dict]] = {"tracking": [], "whole frames": []}
        with served_on_loopback(create_app(lib)) as url:
            for label, track in (("tracking", True), ("whole frames", False)):
                # The baseline: the same server, every frame scanned whole.
                enrolment_routes.open_live_enrolment = partial(
                    open_live_enrolment, track_face=track
                )
                for i in range(args.sessions):
                    run = _session(url, alice, clips.LivePerson(pixels, face.landmarks))
                    runs[label].append(run)
                    _print_session(f"{label}, session {i + 1}", run)
        lib.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    means = {}
    for label, label_runs in runs.items():
        answers = sorted(a for run in label_runs for a in run["answers"])
        mean = statistics.fmean(answers)
        means[label] = mean
        p50, p95 = statistics.median(answers), answers[int(0.95 * (len(answers) - 1))]
        passed = sum(run["verdict"]["passed"] for run in label_runs)
        print(
            f"{label}: honest live sessions passed {passed} of {len(label_runs)}; "
            f"{len(answers)} frames answered in {mean * 1000:.0f} ms on average "
            f"({1 / mean:.1f} a second), p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
        )
        for fps in (15, 30):
            within = sum(a <= 1 / fps for a in answers) / len(answers)
            print(
                f"  against a {fps} fps camera: {1 / mean / fps:.2f}x its rate on average; "
                f"{within:.0%} of frames answered within its {1000 / fps:.0f} ms"
            )
    print(f"tracking vs whole frames: {means['whole frames'] / means['tracking']:.2f}x faster")
    ok = all(run["verdict"]["passed"] for label_runs in runs.values() for run in label_runs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
