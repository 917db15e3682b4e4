"""Memory and speed of checking a phone-sized enrolment clip (1080p, 30 frames a second).

A phone records 1920x1080 frames of 6 MB each: a 15-second clip is 2.6 GB of pixels, so the
check must not hold its frames. The clip is an honest one rendered from scikit-image's
astronaut (the face 300 px wide, in a 1920x1080 frame); each frame is handed to
``verify_clip`` as a fresh copy, as a video decoder hands out new frames, and Python's
allocation tracer reports the peak memory the check held. The baseline is the clip itself.

    .venv/bin/python benchmarks/liveness_memory.py [--fps 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

FRAME = (1920, 1080)
FACE_PX = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import cv2

    from likeness.consent import liveness
    from likeness.faces.backends import turned_face_finder, video_frame_backend
    from likeness.people.identity import PhotoGroup
    from likeness.testing import clips
    from likeness.testing.photos import astronaut

    backend = video_frame_backend()
    finder = turned_face_finder(backend)
    pixels, _ = clips.enrolment_sized(astronaut(), backend, face_px=FACE_PX)
    w, h = FRAME
    top, left = (h - pixels.shape[0]) // 2, (w - pixels.shape[1]) // 2
    frame = cv2.copyMakeBorder(
        pixels,
        top,
        h - pixels.shape[0] - top,
        left,
        w - pixels.shape[1] - left,
        cv2.BORDER_REPLICATE,
    )
    [face] = backend.analyze(frame)
    session = liveness.new_session(rng=random.Random(args.seed))
    print(f"rendering a {session.challenges[-1].end:.1f} s clip at {w}x{h}, {args.fps} fps ...")
    frames = clips.honest_frames(frame, face.landmarks, session, fps=args.fps)
    clip_bytes = sum(f.nbytes for _, f in frames)

    def decoded():
        for t, f in frames:
            yield t, f.copy()  # a decoder's fresh frame

    tracemalloc.start()
    started = time.perf_counter()
    group = PhotoGroup.of_embeddings(face.embedding, backend)
    result = liveness.verify_clip(decoded(), session, backend, group, finder)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mib = 2**20
    print(f"result: {'passed' if result.passed else 'failed'} ({result.reason})")
    print(f"frames: {len(frames)} of {frames[0][1].nbytes / mib:.1f} MiB each")
    print(
        f"peak memory held while checking: {peak / mib:.1f} MiB "
        f"(the clip: {clip_bytes / mib:,.0f} MiB; ratio {peak / clip_bytes:.3f})"
    )
    video_s = frames[-1][0] + 1 / args.fps
    print(
        f"checking took {seconds:.1f} s for {video_s:.1f} s of video "
        f"({seconds / video_s:.1f} s per second of video, {seconds / len(frames) * 1000:.0f} ms "
        "a frame)"
    )


if __name__ == "__main__":
    main()
