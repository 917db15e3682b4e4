"""The GPU training benchmark runs on a CPU with the tiny models (there is no GPU here; the
device tool runs it at full size when a task has one)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # 20 s; the benchmark's own code path, run by `make test-all`
def test_gpu_training_benchmark_runs_with_tiny_models():
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/adapter_training_gpu.py"),
            "--tiny",
            "--steps",
            "5",
            "--family",
            "sd15",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [x for x in done.stdout.splitlines() if x.startswith("sd15 at 128 px")]
    assert "likeness" in line and "bare loop" in line and "speed ratio" in line


def run(script: str, *args: str) -> str:
    """A benchmark script's output, asserting it exits 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow  # 60 s; `make test-all`
def test_the_video_benchmarks_run_and_print_their_figures():
    overhead = run("video_overhead.py", "--clips", "1", "--frames", "4", "--steps", "1")
    assert "ratio likeness / bare:" in overhead and "ms a frame" in overhead
    traced = run("video_provenance.py", "--clips", "2", "--unrelated", "2")
    [crf28] = [line for line in traced.splitlines() if line.startswith("crf28 ")]
    assert crf28.split()[-1] == "0"  # never wrong, even on two clips
    assert "unrelated clips" in traced


@pytest.mark.slow  # 100 s; `make test-all`
def test_kept_depth_pairs_measured_again_read_what_the_sessions_read(faces_dev, tmp_path):
    """``liveness.py --keep-pairs`` keeps the very pairs each verdict measured, by turn:
    measured again by the same code (``liveness_replay.py``), every clip's depth figure is the
    one its verdict judged. Live, where the print's holder lines it up and heeds the prompts
    (recorded, this photo's prints no longer meet a turn and are never measured for depth);
    the pairs keep the roll between their frames (liveness-24): the head tilts as it turns
    (``--tilt``), its turned frames are turned back, and measured without turning them back
    (``--without-rolls``) they read other figures."""
    import re

    kept = tmp_path / "pairs"
    sessions = run(
        "liveness.py",
        "--live",
        "--only",
        "amy_adams/1.jpg",
        "--cases",
        "honest",
        "cut-out V-fold 120, short",
        "--seed",
        "4",
        "--tilt",
        "1",
        "--workers",
        "1",
        "--keep-pairs",
        str(kept),
    )
    assert "false rejects 0 of 1" in sessions
    replayed = run("liveness_replay.py", str(kept), "--workers", "1")
    figures = {
        case: (float(a), float(b))
        for case, a, b in re.findall(
            r"^\s+(honest|cut-out V-fold 120, short)\s.*kept ([\d.]+) .*now ([\d.]+)",
            replayed,
            re.M,
        )
    }
    assert set(figures) == {"honest", "cut-out V-fold 120, short"}, replayed
    assert all(a == b for a, b in figures.values()), replayed
    assert figures["honest"][0] >= 1.0 > figures["cut-out V-fold 120, short"][0]
    [back] = re.findall(r"turned back past 8: (\d+) pairs", replayed)
    assert int(back) > 0, replayed
    level = run("liveness_replay.py", str(kept), "--workers", "1", "--without-rolls")
    [without] = re.findall(r"^\s+honest\s.*now ([\d.]+)", level, re.M)
    assert float(without) != figures["honest"][0], level


@pytest.mark.slow  # 40 s; `make test-all`
def test_live_sessions_run_through_the_live_check_and_are_reported_as_live(faces_dev):
    """``liveness.py --live`` runs the heads through ``LiveCheck``: an honest head passes
    and another person following the same prompts is refused as not matching; a flat print
    held by someone heeding the prompts is asked for both wider turns a session gives and
    refused; a camera that codes across frames cannot be read live. Poses from the 5
    landmarks (``--poses landmarks``), which read the print as turned: the face mesh reads
    it as facing the camera, and its session ends at the first turn."""
    out = run(
        "liveness.py",
        "--live",
        "--poses",
        "landmarks",
        "--only",
        "amy_adams/1.jpg",
        "--cases",
        "honest",
        "other person",
        "flat print turned",
        "--camera",
        "noise 3, JPEG 90",
        "--seed",
        "3",
        "--workers",
        "1",
    )
    assert "false rejects 0 of 1; false accepts 0 of 2" in out, out
    assert "noise 3, JPEG 90, 180 px in the clip, 15 fps, live, poses from the 5 landmarks" in out
    assert "5 landmarks, flat print turned: asked 2: 1 (0 passed)" in out, out
    assert "5 landmarks, honest: asked 0: 1 (1 passed)" in out, out
    refused = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/liveness.py"),
            "--live",
            "--camera",
            "noise 3, H.264 CRF 28",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "codes across frames" in refused.stderr


def test_a_report_of_a_file_that_is_missing_or_not_saved_outcomes_says_so(tmp_path):
    """``liveness.py --report`` of a missing file or one that is not JSON exits 2 naming it,
    without a traceback."""
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    for path in (tmp_path / "missing.json", garbled):
        done = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks/liveness.py"), "--report", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert f"--report {path}: not outcomes saved by --save" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.slow  # 25 s; `make test-all`
def test_the_real_clip_benchmark_reads_a_turning_head_with_either_pose_reader(tmp_path):
    """``liveness_real_clip.py`` reads a recording's poses as a session does (the face mesh)
    or from the 5 landmarks, and measures the depth of the frames a session would keep: a
    rendered head turning both ways has relief above the threshold either way."""
    from likeness.testing import clips
    from likeness.testing.photos import astronaut

    pixels, face = clips.prepared(astronaut())
    yaws = [0, 0, 0, 6, 12, 18, 24, 18, 12, 6, 0, 0, -6, -12, -18, -24, -18, -12, -6, 0]
    frames = [
        (i / 15, clips.render_pose(pixels, face.landmarks, yaw, 0)) for i, yaw in enumerate(yaws)
    ]
    video = clips.write_video(frames, tmp_path / "turn.mp4")
    for poses in ("mesh", "landmarks"):
        out = run("liveness_real_clip.py", str(video), "--poses", poses)
        assert f"poses from the {poses}" in out and "pose change from frame to frame" in out
        [median] = [line for line in out.splitlines() if line.startswith("median relief")]
        assert float(median.split()[2]) > 0.30, out
    bad = tmp_path / "not-a-video.mp4"
    bad.write_bytes(b"not a video")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/liveness_real_clip.py"), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and f"cannot read {bad}" in done.stderr


def test_the_clock_benchmark_passes_prompt_people_and_refuses_slow_ones():
    """``liveness_timing.py`` feeds the check frames that carry a pose and no face's pixels:
    read through the face mesh (the check's reader since liveness-18) every clip failed,
    honest ones included, and the script measured nothing."""
    out = run("liveness_timing.py", "--sessions", "3", "--seed", "0")
    rows = {line[:16]: line.split()[4] for line in out.splitlines() if " deg/s " in line}
    assert rows["0.30 s, 65 deg/s"] == "0"  # prompt people pass
    assert rows["0.80 s, 30 deg/s"] == "3"  # too slow for the windows: late
