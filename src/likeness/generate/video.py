"""``generate_video``: short clips of the people who consented to video, each frame judged,
the clip signed, watermarked and fingerprinted, or nothing written.

A clip is made by AnimateDiff's pipeline for the base model's family (``AnimateDiffPipeline``
for SD 1.5-type models, ``AnimateDiffSDXLPipeline`` for SDXL-type), built from the user's base
model with a motion module (``models.motion``) and each mentioned person's newest adapter on
it, as for images. Two people get a region each (regional prompting, ``generate.sampling``)
that holds on every frame. The gate's action is ``generate-video``, which no image grant
implies; a minor is never in a clip. Every frame's faces pass the safety gate
(``SafetyGate.check_clip``) before anything touches disk; the clip leaves as an MP4 (H.264)
or an animated WebP with Content Credentials, and its watermark and per-frame fingerprint in
the local store (``provenance.clips``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from likeness.consent.grants import OWNER
from likeness.consent.policy import Action, Decision
from likeness.generate.outputs import Compute, LocalCompute
from likeness.generate.run import (
    GeneratedImage,
    GenerationError,
    GenerationResult,
    authorize_prompt,
    check_counts,
    output_folder,
    plan_generation,
    sampling_request,
)
from likeness.models.motion import resolve_motion
from likeness.provenance.clips import CLIP_FORMATS, stamp_clip
from likeness.provenance.credentials import GenerationRecord
from likeness.safety.gate import SafetyGate, SafetyVerdict
from likeness.store import Library

#: Frames per second a clip may play at.
FPS_RANGE = (1, 60)


@dataclass(frozen=True)
class VideoOptions:
    model: str = "tiny-sd15"
    #: The motion module (``models.motion``): None for the built-in tiny one, which only the
    #: built-in tiny models take; a hub id, a folder or a single file otherwise.
    motion: str | None = None
    frames: int = 16
    fps: int = 8
    count: int = 1
    seed: int = 0
    width: int | None = None  # default: the model's resolution
    height: int | None = None
    steps: int = 25
    guidance: float = 7.5
    style: str | None = None
    format: str = "mp4"  # mp4 (H.264) or webp (animated)
    device: str | None = None


@dataclass(frozen=True)
class ClipIdentity:
    """How much a clip looks like one person it mentions, frame by frame: in how many frames
    a face matches them (by the consent match, as the safety gate found it), the mean
    distance of those faces to their photo group and its spread across the frames (a face
    that drifts from frame to frame shows as spread). The built-in tiny models draw no
    faces: then it says so rather than inventing a score."""

    person: int
    frames: int
    with_face: int
    mean_distance: float | None
    spread: float | None

    def summary(self) -> str:
        if not self.with_face:
            return (
                f"person {self.person}: no face of theirs in {self.frames} frames (the identity "
                "cannot be scored; the built-in tiny models draw no faces)"
            )
        return (
            f"person {self.person}: their face in {self.with_face} of {self.frames} frames, "
            f"mean distance {self.mean_distance:.3f} (spread {self.spread:.3f})"
        )

    def as_json(self) -> dict:
        return {
            "person": self.person,
            "frames": self.frames,
            "with_face": self.with_face,
            "mean_distance": self.mean_distance,
            "spread": self.spread,
            "summary": self.summary(),
        }


def clip_identity(verdict: SafetyVerdict, people: list[int], frames: int) -> list[ClipIdentity]:
    """Each mentioned person's ``ClipIdentity`` from the gate's findings on the clip (the
    nearest of their faces in each frame)."""
    import numpy as np

    scores = []
    for person in people:
        best: dict[int, float] = {}
        for f in verdict.faces:
            if f.person_id == person and f.distance is not None and f.frame is not None:
                best[f.frame] = min(best.get(f.frame, f.distance), f.distance)
        values = np.array(list(best.values()))
        scores.append(
            ClipIdentity(
                person,
                frames,
                len(values),
                float(values.mean()) if len(values) else None,
                float(values.std()) if len(values) else None,
            )
        )
    return scores


def authorize_video(
    lib: Library,
    prompt: str,
    options: VideoOptions,
    requester: str = OWNER,
    *,
    among: Collection[int] | None = None,
    within: Collection[str] | None = None,
) -> Decision:
    """Ask the gate for ``generate-video`` on the prompt's people with this base model
    (``run.authorize_prompt``: an app's request as for images)."""
    return authorize_prompt(
        lib, prompt, Action.GENERATE_VIDEO, options.model, requester, among=among, within=within
    )


def _check(options: VideoOptions) -> None:
    check_counts(options.count, options.steps, "clips")
    if options.frames < 2:
        raise GenerationError("a clip has at least 2 frames", field="frames")
    if not FPS_RANGE[0] <= options.fps <= FPS_RANGE[1]:
        raise GenerationError(
            f"fps {options.fps}: from {FPS_RANGE[0]} to {FPS_RANGE[1]}", field="fps"
        )
    if options.format not in CLIP_FORMATS:
        raise GenerationError(
            f"unknown clip format {options.format!r}: mp4 or webp", field="format"
        )


def generate_video(
    lib: Library,
    decision: Decision,
    prompt: str,
    out_dir: Path,
    options: VideoOptions | None = None,
    *,
    progress: Callable[[int, int, int], None] | None = None,
    gate: SafetyGate | None = None,
    compute: Compute | None = None,
) -> GenerationResult:
    """Generate ``options.count`` clips into ``out_dir``; ``decision`` must allow
    ``generate-video`` for exactly the people the prompt mentions. ``progress(clip, step,
    steps)`` hears of each denoising step (all of a clip's frames are denoised together;
    after each clip when sampled elsewhere). ``compute``: where the frames are sampled
    (default this process); the safety gate and the stamping run here whatever it is. The
    result's ``images`` are the clips, each written or refused with the reason."""
    options = options or VideoOptions()
    _check(options)
    plan = plan_generation(
        lib,
        decision,
        prompt,
        Action.GENERATE_VIDEO,
        options.model,
        options.style,
        (options.width, options.height),
    )
    motion = resolve_motion(options.motion, plan.model)
    request, placements = sampling_request(lib, plan, options, motion, options.frames)
    gate = gate or SafetyGate(lib, decision)
    parameters = plan.parameters(
        list(request.regions),
        motion=motion.name,
        motion_sha256=motion.sha256,
        seed=options.seed,
        count=options.count,
        frames=options.frames,
        fps=options.fps,
        steps=options.steps,
        guidance=options.guidance,
        style=options.style,
        format=options.format,
    )
    result = plan.start_result(decision, prompt, Action.GENERATE_VIDEO, parameters)
    where = output_folder(out_dir, options.format)

    def report(index: int, step: int, steps: int) -> None:
        decision.check_in_force(lib)  # a revocation stops a clip made here within one step
        if progress is not None:
            progress(index, step, steps)

    compute = compute or LocalCompute(options.device)
    for index, frames in compute.images(lib, decision, request, report):
        seed = request.seeds[index]
        verdict = gate.check_clip(frames, placements)
        decision.check_in_force(lib)
        if not verdict.allowed:
            result.images.append(GeneratedImage(index, seed, None, False, verdict.reason))
            continue

        def stamp(record: GenerationRecord, frames=frames, seq=verdict.audit_seq):
            return stamp_clip(lib, frames, options.fps, options.format, record, safety_seq=seq)

        identity = clip_identity(verdict, plan.parsed.people, options.frames)
        plan.release(
            lib,
            decision,
            result,
            prompt,
            where,
            index,
            seed,
            verdict.reason,
            stamp,
            identity=[score.as_json() for score in identity],
        )
    result.images.sort(key=lambda image: image.index)  # sampled elsewhere, in any order
    return result
