"""``generate_images``: from a prompt with @mentions to signed, watermarked files of the
people who consented, and nothing else.

The model is loaded once per call, with each mentioned person's newest adapter on it. Every
image passes the safety gate before it touches disk; a refused image is never written, and the
refusal is in the audit log and in the result. Every written image is watermarked,
fingerprinted and signed (Content Credentials) and its manifest kept in the local store. The
consent gate's Decision is checked again before each image.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from likeness import clock
from likeness.adapters.manage import AdapterInfo, adapter_name, adapter_weights, latest_adapter
from likeness.consent.grants import OWNER
from likeness.consent.policy import Action, Decision, authorize
from likeness.errors import InvalidError
from likeness.generate.layout import Box, strips
from likeness.generate.outputs import AdapterWeights, Compute, LocalCompute, SamplingRequest
from likeness.generate.prompt import ParsedPrompt, parse_prompt
from likeness.generate.sampling import Region
from likeness.generate.styles import PHOTO, Style, get_style
from likeness.models.registry import BaseModel, get_model, model_kind
from likeness.provenance.clips import StampedClip
from likeness.provenance.credentials import GenerationRecord
from likeness.provenance.stamp import StampedImage, stamp_image
from likeness.safety.gate import SafetyGate
from likeness.store import Library

if TYPE_CHECKING:
    from likeness.generate.video import VideoOptions
    from likeness.models.motion import MotionModule


class GenerationError(InvalidError):
    """Generation cannot run as asked."""


@dataclass(frozen=True)
class GenerationOptions:
    model: str = "tiny-sd15"
    count: int = 1
    seed: int = 0
    width: int | None = None  # default: the model's resolution
    height: int | None = None
    steps: int = 30
    guidance: float = 7.0
    style: str | None = None
    format: str = "png"
    device: str | None = None


@dataclass
class GeneratedImage:
    index: int
    seed: int
    path: str | None  # None when refused
    allowed: bool
    reason: str
    watermark_id: str | None = None
    #: For a clip: each mentioned person's likeness across its frames (``ClipIdentity``).
    identity: list[dict] | None = None

    def as_json(self) -> dict:
        return self.__dict__.copy()


@dataclass
class GenerationResult:
    prompt_sha256: str
    people: list[int]
    action: str
    parameters: dict
    images: list[GeneratedImage] = field(default_factory=list)
    #: The consent grants the generation was allowed under (the manifests carry them too).
    grants: list[str] = field(default_factory=list)

    @property
    def written(self) -> list[GeneratedImage]:
        return [i for i in self.images if i.allowed]

    def as_json(self) -> dict:
        return {
            "prompt_sha256": self.prompt_sha256,
            "people": self.people,
            "action": self.action,
            "parameters": self.parameters,
            "images": [i.as_json() for i in self.images],
            "grants": self.grants,
        }


def generation_action(style: str | None) -> Action:
    return Action.GENERATE_STYLIZED if get_style(style) else Action.GENERATE_PHOTOREAL


def authorize_generation(
    lib: Library,
    prompt: str,
    options: GenerationOptions,
    requester: str = OWNER,
    *,
    among: Collection[int] | None = None,
    within: Collection[str] | None = None,
) -> Decision:
    """Ask the gate for the style's action on the prompt's people (``authorize_prompt``)."""
    action = generation_action(options.style)
    return authorize_prompt(
        lib, prompt, action, options.model, requester, among=among, within=within
    )


def authorize_prompt(
    lib: Library,
    prompt: str,
    action: Action,
    model_name: str,
    requester: str = OWNER,
    *,
    among: Collection[int] | None = None,
    within: Collection[str] | None = None,
) -> Decision:
    """Resolve the prompt's mentions and ask the gate for ``action`` on those people with
    this model (tiny or real, as the registry says). An app's request is read among the
    people of its token only and decided on the token's grants only (``among``, ``within``)."""
    parsed = parse_prompt(lib, prompt, among)
    kind = model_kind(lib, model_name)
    return authorize(lib, action, parsed.people, requester, kind, within=within)


def write_new(path: Path, data: bytes) -> None:
    """Write a file that did not exist, all or nothing (no half-written image is left)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def file_name(out: Path, stamp: str, seed: int, fmt: str) -> Path:
    """A new file's path in ``out`` for an output in ``fmt`` (png, jpeg, webp; mp4)."""
    ext = {"png": "png", "jpeg": "jpg", "webp": "webp", "mp4": "mp4"}[fmt]
    path = out / f"likeness-{stamp}-{seed}.{ext}"
    n = 1
    while path.exists():
        path = out / f"likeness-{stamp}-{seed}-{n}.{ext}"
        n += 1
    return path


@dataclass(frozen=True)
class Plan:
    """What a generation of images or clips settles before sampling: the prompt's people
    (checked against the Decision), the style, the base model, each person's adapter and
    the size."""

    parsed: ParsedPrompt
    style: Style
    model: BaseModel
    adapters: list[AdapterInfo]
    width: int
    height: int

    def regions(self, names: list[str]) -> tuple[str, dict[int, Box] | None, list[Region]]:
        """(the prompt as the model reads it, where each person was placed, one region
        each): several people get a strip each, which is also where the gate looks for
        their face; one or none, the whole picture."""
        chosen = self.style
        text = chosen.template.format(prompt=self.parsed.text())
        people = self.parsed.people
        boxes = strips(len(names), self.width, self.height) if len(names) > 1 else []
        placements = dict(zip(people, boxes, strict=False)) or None
        regions = [
            Region(chosen.template.format(prompt=self.parsed.text(only=p)), name, box)
            for p, name, box in zip(people, names, boxes, strict=False)
        ]
        return text, placements, regions

    def parameters(self, regions: list[Region], **options: object) -> dict:
        """What the result and each output's credentials record of the generation: the
        model, ``options``, the size, the adapters and the layout."""
        return {
            "model": self.model.name,
            "model_sha256": self.model.sha256,
            **options,
            "size": [self.width, self.height],
            "adapters": [a.id for a in self.adapters],
            "layout": [list(r.box) for r in regions],
        }

    def start_result(
        self, decision: Decision, prompt: str, action: Action, parameters: dict
    ) -> GenerationResult:
        """The run's result, with no output yet: the prompt's hash (never its text), the
        people, the action, the parameters and the grants it was allowed under."""
        return GenerationResult(
            hashlib.sha256(prompt.encode()).hexdigest(),
            self.parsed.people,
            str(action),
            parameters,
            grants=list(decision.grant_ids),
        )

    def release(
        self,
        lib: Library,
        decision: Decision,
        result: GenerationResult,
        prompt: str,
        where: tuple[Path, str, str],
        index: int,
        seed: int,
        reason: str,
        stamp: Callable[[GenerationRecord], StampedImage | StampedClip],
        **extra: object,
    ) -> None:
        """Stamp an allowed output (``stamp(record)``: watermark, fingerprint, signature),
        write it all or nothing as a new file in ``where`` (folder, the run's start time,
        format) and add it to ``result``."""
        out, started, fmt = where
        path = file_name(out, started, seed, fmt)
        stamped = stamp(self.record(path, decision, result.parameters, prompt, seed))
        write_new(path, stamped.data)
        mark = f"{stamped.watermark_id:08x}"
        result.images.append(GeneratedImage(index, seed, str(path), True, reason, mark, **extra))

    def record(
        self, path: Path, decision: Decision, parameters: dict, prompt: str, seed: int
    ) -> GenerationRecord:
        """What one output's Content Credentials say: everything but the prompt's text
        (which may hold names), and a hash of the parameters with it."""
        params_hash = hashlib.sha256(
            json.dumps({**parameters, "seed": seed, "prompt": prompt}, sort_keys=True).encode()
        ).hexdigest()
        return GenerationRecord(
            title=path.name,
            model_name=self.model.name,
            model_sha256=self.model.sha256,
            grant_ids=decision.grant_ids,
            adapter_ids=tuple(a.id for a in self.adapters),
            parameters_sha256=params_hash,
            parameters={
                **parameters,
                "seed": seed,
                "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
            },
        )


def plan_generation(
    lib: Library,
    decision: Decision,
    prompt: str,
    action: Action,
    model_name: str,
    style_name: str | None,
    size: tuple[int | None, int | None],
) -> Plan:
    """Read the prompt as the Decision's requester may (an app's among its own people), hold
    the Decision to exactly this action, people and model, check the size, and find each
    person's newest adapter on the model."""
    # An app's prompt is read among the people it was allowed (its errors name no one else).
    among = None if decision.requester == OWNER else decision.subjects
    parsed = parse_prompt(lib, prompt, among)
    model = get_model(lib, model_name)
    decision.require(action, parsed.people, model.kind)
    width, height = size[0] or model.resolution, size[1] or model.resolution
    if width % 8 or height % 8 or min(width, height) < 64:
        raise GenerationError(
            f"size {width}x{height}: both sides must be multiples of 8, >= 64", field="size"
        )
    adapters = [latest_adapter(lib, person, model.name) for person in parsed.people]
    decision.check_in_force(lib)
    return Plan(parsed, get_style(style_name) or PHOTO, model, adapters, width, height)


#: The most denoising steps: the schedulers of Stable Diffusion-type models have 1000
#: timesteps, refuse more steps than that, and some (DDIM with an offset, AnimateDiff's)
#: step past the last one from 501 steps on. No sampler gains anything near this many.
MAX_STEPS = 500


def check_counts(count: int, steps: int, noun: str) -> None:
    """``GenerationError`` unless there is at least one output and 1 to ``MAX_STEPS`` steps."""
    if count < 1 or steps < 1:
        raise GenerationError(f"the number of {noun} and of steps must each be at least 1")
    if steps > MAX_STEPS:
        raise GenerationError(
            f"{steps} steps: at most {MAX_STEPS} (the models' schedulers have no more)",
            field="steps",
        )


def sampling_request(
    lib: Library,
    plan: Plan,
    options: GenerationOptions | VideoOptions,
    motion: MotionModule | None = None,
    frames: int | None = None,
) -> tuple[SamplingRequest, dict[int, Box] | None]:
    """What sampling the planned images (with ``motion``: clips of ``frames``) needs, each
    adapter decrypted in memory, and where each person was placed (what the safety gate
    holds their face to)."""
    names = [adapter_name(a) for a in plan.adapters]
    text, placements, regions = plan.regions(names)
    request = SamplingRequest(
        model=plan.model,
        adapters=tuple(
            AdapterWeights(name, adapter_weights(lib, a))
            for name, a in zip(names, plan.adapters, strict=True)
        ),
        text=text,
        negative=plan.style.negative,
        regions=tuple(regions),
        width=plan.width,
        height=plan.height,
        steps=options.steps,
        guidance=options.guidance,
        seeds=tuple(options.seed + index for index in range(options.count)),
        motion=motion,
        frames=frames,
    )
    return request, placements


def output_folder(out_dir: Path, fmt: str) -> tuple[Path, str, str]:
    """(the folder outputs go to, made if missing; the run's start time that their names
    carry; their format)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out, clock.local(clock.now()).strftime("%Y%m%d-%H%M%S"), fmt


def generate_images(
    lib: Library,
    decision: Decision,
    prompt: str,
    out_dir: Path,
    options: GenerationOptions | None = None,
    *,
    progress: Callable[[int, int, int], None] | None = None,
    gate: SafetyGate | None = None,
    compute: Compute | None = None,
) -> GenerationResult:
    """Generate ``options.count`` images into ``out_dir``. ``decision`` must allow the
    style's action for exactly the people the prompt mentions. ``progress(image, step,
    steps)`` is called after each denoising step (after each image when sampled elsewhere).
    ``compute``: where the pixels are sampled (default this process, ``LocalCompute``); the
    safety gate and the stamping run here whatever it is."""
    options = options or GenerationOptions()
    action = generation_action(options.style)
    check_counts(options.count, options.steps, "images")
    if options.format not in ("png", "jpeg", "webp"):
        raise GenerationError(f"unknown format {options.format!r}: png, jpeg or webp")
    plan = plan_generation(
        lib, decision, prompt, action, options.model, options.style, (options.width, options.height)
    )
    request, placements = sampling_request(lib, plan, options)
    regions = list(request.regions)
    gate = gate or SafetyGate(lib, decision)
    parameters = plan.parameters(
        regions,
        seed=options.seed,
        count=options.count,
        steps=options.steps,
        guidance=options.guidance,
        style=options.style,
        format=options.format,
    )
    result = plan.start_result(decision, prompt, action, parameters)
    where = output_folder(out_dir, options.format)
    compute = compute or LocalCompute(options.device)
    for index, pixels in compute.images(lib, decision, request, progress):
        seed = request.seeds[index]
        verdict = gate.check(pixels, placements)
        # Consent may have been withdrawn (or the person erased) while the image was made
        # and judged: nothing is written then.
        decision.check_in_force(lib)
        if not verdict.allowed:
            result.images.append(GeneratedImage(index, seed, None, False, verdict.reason))
            continue

        def stamp(record: GenerationRecord, pixels=pixels, seq=verdict.audit_seq):
            return stamp_image(lib, pixels, options.format, record, safety_seq=seq)

        plan.release(lib, decision, result, prompt, where, index, seed, verdict.reason, stamp)
    result.images.sort(key=lambda image: image.index)  # sampled elsewhere, they come in any order
    return result
