"""Video end to end on the built-in tiny models and motion module: consent to video, every
frame through the safety gate, Content Credentials in the MP4, the watermark and fingerprint
of a re-encoded excerpt."""

import json
from pathlib import Path

import numpy as np
import pytest

from likeness.consent.audit import list_audit
from likeness.consent.grants import Scope, Trust, issue_grant, revoke_grant
from likeness.consent.policy import ConsentWithdrawnError
from likeness.generate.video import (
    VideoOptions,
    authorize_video,
    clip_identity,
    generate_video,
)
from likeness.people.manage import set_minor
from likeness.provenance.clips import encode_clip, read_clip_frames
from likeness.provenance.stamp import find_provenance
from likeness.safety.gate import SafetyGate
from likeness.testing.camera import h264_round_trip
from likeness.testing.cli import likeness
from likeness.testing.libraries import astronaut_variants, hopper_variants

#: 3 seconds at 8 fps: an excerpt of 2 seconds is 16 frames.
FAST = VideoOptions(steps=3, frames=24, fps=8, style="watercolor")


def _video_grant(lib, person):
    return issue_grant(lib, person, [Scope.GENERATE_VIDEO], Trust.ATTESTED).id


def _allowed(lib, prompt, options=FAST):
    decision = authorize_video(lib, prompt, options)
    assert decision.allowed, decision.reason
    return decision


def test_a_clip_of_a_consented_person_is_signed_watermarked_and_traced_after_reencoding(
    two_people, tmp_path
):
    lib = two_people.lib
    grant = _video_grant(lib, two_people.alice)
    decision = _allowed(lib, "@alice waving")
    result = generate_video(lib, decision, "@alice waving", tmp_path / "out", FAST)
    [clip] = result.written
    assert clip.path.endswith(".mp4") and result.action == "generate-video"
    [identity] = clip.identity  # the tiny models draw no faces: said, not scored
    assert identity["with_face"] == 0 and "cannot be scored" in identity["summary"]
    frames = read_clip_frames(Path(clip.path))
    assert len(frames) == 24 and frames[0].shape == (128, 128, 3)

    # The official SDK reads the MP4's manifest as valid and signed under this library.
    report = find_provenance(lib, clip.path)
    assert report.credentials.state == "trusted", report.credentials.failures
    assertion = report.credentials.assertions["org.likeness.consent"]
    assert assertion["grants"] == [grant]
    assert assertion["parameters"]["frames"] == 24 and assertion["parameters"]["fps"] == 8
    assert assertion["parameters"]["motion"] == "tiny"
    assert "alice" not in json.dumps(report.credentials.as_json()).lower()
    assert f"{report.watermark_id:08x}" == clip.watermark_id

    # The last 2 seconds, re-encoded at H.264 CRF 28 (what a video site does): the manifest
    # is gone, the watermark and the fingerprint both find the clip.
    excerpt = list(h264_round_trip(frames[8:], crf=28, fps=8))
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(encode_clip(np.stack(excerpt), 8, "mp4"))
    found = find_provenance(lib, copy)
    assert found.credentials.state == "none"
    assert f"{found.watermark_id:08x}" == clip.watermark_id
    assert f"{found.fingerprint_match:08x}" == clip.watermark_id
    assert found.frames == 16 and found.frames_matched >= 12
    assert found.stored_manifest["title"] == clip.path.rsplit("/", 1)[1]

    # As an animated GIF (a converted copy), trimmed of its first second.
    from PIL import Image

    gif = tmp_path / "copy.gif"
    images = [Image.fromarray(f) for f in frames[8:]]
    images[0].save(gif, save_all=True, append_images=images[1:], duration=125, loop=0)
    as_gif = find_provenance(lib, gif)
    assert f"{as_gif.fingerprint_match:08x}" == clip.watermark_id

    # A still taken from the clip (a screenshot of frame 13) is found by that frame's hash.
    still = tmp_path / "still.png"
    Image.fromarray(frames[13]).save(still)
    shot = find_provenance(lib, still)
    assert f"{shot.fingerprint_match:08x}" == clip.watermark_id and shot.frames_matched == 1

    # One verdict per clip in the audit log, with the clip's hash and its frame count.
    [safety] = [e["payload"] for e in list_audit(lib) if e["kind"] == "safety"]
    assert safety["allowed"] and safety["frames"] == 24


def test_an_image_grant_does_not_allow_video_and_nothing_is_written(two_people, tmp_path):
    lib = two_people.lib  # Alice has a generate-stylized grant, not generate-video
    denied = authorize_video(lib, "@alice waving", FAST)
    assert not denied.allowed and "no grant in force for generate-video" in denied.reason
    out = tmp_path / "out"
    run = likeness(
        lib.home, "video", "@alice waving", "--steps", "2", "--frames", "4", "--out", str(out)
    )
    assert run.returncode == 4 and "no grant in force for generate-video" in run.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_clip_longer_than_the_motion_module_covers_is_refused_and_nothing_written(
    two_people, tmp_path
):
    from likeness.models.families import ModelError

    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    options = VideoOptions(steps=2, frames=40, style="watercolor")  # the tiny module covers 32
    with pytest.raises(ModelError, match="covers at most 32") as refused:
        generate_video(
            lib, _allowed(lib, "@alice waving", options), "@alice waving", tmp_path / "out", options
        )
    assert refused.value.field == "frames"
    assert not any((tmp_path / "out").iterdir())


def test_a_minor_is_never_in_a_clip(two_people):
    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    set_minor(lib, two_people.alice, True)
    denied = authorize_video(lib, "@alice waving", FAST)
    assert not denied.allowed and "minor" in denied.reason


class InjectingGate(SafetyGate):
    """The safety gate, fed frames 10 to 13 of the clip replaced by a photo of Grace
    Hopper (a library person with no grant): what a motion module that drew her would
    show."""

    def check_clip(self, frames, placements=None):
        face = np.asarray(hopper_variants()[0].resize(frames.shape[2:0:-1]))
        frames = frames.copy()
        frames[10:14] = face
        return super().check_clip(frames, placements)


def test_a_clip_showing_an_unconsented_face_in_a_few_frames_is_refused(two_people, tmp_path):
    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    decision = _allowed(lib, "@alice waving")
    gate = InjectingGate(lib, decision)
    out = tmp_path / "out"
    options = VideoOptions(steps=2, frames=16, style="watercolor")
    result = generate_video(lib, decision, "@alice waving", out, options, gate=gate)
    [clip] = result.images
    assert not clip.allowed and clip.path is None
    assert clip.reason.startswith("frame 10: a face matches person")
    assert f"person {two_people.grace}" in clip.reason
    assert not any(out.iterdir())
    [safety] = [e["payload"] for e in list_audit(lib) if e["kind"] == "safety"]
    assert not safety["allowed"] and two_people.grace in safety["faces"]


def test_revoking_consent_mid_clip_stops_it_within_a_step(two_people, tmp_path):
    lib = two_people.lib
    grant = _video_grant(lib, two_people.alice)
    decision = _allowed(lib, "@alice waving")
    steps_seen = []

    def progress(clip, step, steps):
        steps_seen.append(step)
        if step == 1:
            revoke_grant(lib, grant)

    out = tmp_path / "out"
    options = VideoOptions(steps=4, frames=8, style="watercolor")
    with pytest.raises(ConsentWithdrawnError):
        generate_video(lib, decision, "@alice waving", out, options, progress=progress)
    assert steps_seen == [1]
    assert not any(out.iterdir())


def test_two_people_each_get_a_region_and_the_clip_can_be_an_animated_webp(two_people, tmp_path):
    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    _video_grant(lib, two_people.grace)
    options = VideoOptions(steps=2, frames=8, style="watercolor", format="webp")
    prompt = "@alice and @grace_hopper dancing"
    decision = _allowed(lib, prompt, options)
    result = generate_video(lib, decision, prompt, tmp_path, options)
    [clip] = result.written
    assert clip.path.endswith(".webp")
    assert result.parameters["layout"] == [[0, 0, 64, 128], [64, 0, 128, 128]]
    report = find_provenance(lib, clip.path)
    assert report.credentials.state == "trusted", report.credentials.failures
    assert report.frames == 8 and f"{report.watermark_id:08x}" == clip.watermark_id


def test_the_cli_writes_a_clip_and_lists_it_as_json(two_people, tmp_path):
    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    out = tmp_path / "out"
    run = likeness(
        lib.home,
        "video",
        "@alice waving",
        "--style",
        "watercolor",
        "--steps",
        "2",
        "--frames",
        "8",
        "--fps",
        "4",
        "--out",
        str(out),
        "--json",
    )
    assert run.returncode == 0, run.stderr
    [clip] = json.loads(run.stdout)["images"]
    assert clip["allowed"] and clip["path"].endswith(".mp4")
    verify = likeness(lib.home, "provenance", "verify", clip["path"], "--json")
    assert json.loads(verify.stdout)["credentials"]["state"] == "trusted"
    too_many = likeness(lib.home, "video", "@alice waving", "--frames", "64", "--steps", "1")
    assert too_many.returncode != 0 and "covers at most 32" in too_many.stderr


def test_the_gate_follows_a_face_across_frames_and_scores_the_clips_likeness(two_people):
    """A real face moving through a clip (the astronaut, Alice in this library): one track,
    her face in every frame at a steady distance; with Grace Hopper placed where Alice
    should be, the placement rule refuses it on the track (as it does an image)."""
    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    _video_grant(lib, two_people.grace)
    decision = _allowed(lib, "@alice waving")
    gate = SafetyGate(lib, decision, require_presence=True)
    photo = np.asarray(astronaut_variants()[0].resize((256, 256)))
    frames = np.stack([np.roll(photo, 3 * i, axis=1) for i in range(6)])
    verdict = gate.judge_clip(frames)
    assert verdict.allowed, verdict.reason
    assert "6 faces, 1 tracks" in verdict.reason
    [score] = clip_identity(verdict, [two_people.alice], len(frames))
    assert score.with_face == 6 and score.mean_distance < 0.55 and score.spread < 0.05

    both = _allowed(lib, "@alice and @grace_hopper dancing")
    gate = SafetyGate(lib, both, require_presence=True)
    hopper = np.asarray(hopper_variants()[1].resize((256, 256)))
    pair = np.stack([np.concatenate([hopper, photo], axis=1)] * 4)  # Grace left, Alice right
    placements = {two_people.alice: (0, 0, 256, 256), two_people.grace: (256, 0, 512, 256)}
    refused = gate.judge_clip(pair, placements)
    assert not refused.allowed
    assert refused.reason == (
        f"the face placed for person {two_people.alice} is person {two_people.grace}"
    )
    swapped = {two_people.alice: (256, 0, 512, 256), two_people.grace: (0, 0, 256, 256)}
    assert gate.judge_clip(pair, swapped).allowed


def test_explicit_content_on_a_sampled_frame_refuses_the_clip(two_people):
    """No explicit image is kept in the test data (as for images): NudeNet is told to treat
    the class it finds in a real portrait as explicit, and that portrait is frame 8 of a
    clip of scenery, one of the frames it looks at (every 4th and the last)."""
    from likeness.safety.nsfw import NudityDetector
    from likeness.testing.photos import astronaut, scenery

    lib = two_people.lib
    _video_grant(lib, two_people.alice)
    strict = NudityDetector(labels=frozenset({"FACE_FEMALE"}))
    gate = SafetyGate(lib, _allowed(lib, "@alice waving"), nudity=strict)
    frames = np.stack([np.asarray(scenery(i, (256, 256))) for i in range(12)])
    assert gate.judge_clip(frames).allowed
    frames[8] = np.asarray(astronaut().resize((256, 256)))
    verdict = gate.judge_clip(frames)
    assert not verdict.allowed
    assert verdict.reason == "frame 8: explicit content (FACE_FEMALE)"


def test_an_sdxl_type_model_makes_a_clip_through_animatediffs_sdxl_pipeline(lib, tmp_path):
    """A clip of no one on the tiny SDXL-type model: AnimateDiffSDXLPipeline with the built-in
    tiny SDXL motion module (no motion layers in its mid block, as AnimateDiff's SDXL)."""
    options = VideoOptions(model="tiny-sdxl", steps=2, frames=4, fps=4)
    decision = _allowed(lib, "a beach at sunset, waves", options)
    result = generate_video(lib, decision, "a beach at sunset, waves", tmp_path, options)
    [clip] = result.written
    assert len(read_clip_frames(Path(clip.path))) == 4
    assert result.parameters["motion"] == "tiny" and result.parameters["model"] == "tiny-sdxl"
