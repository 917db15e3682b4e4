"""The tasks every front end runs: ask the gate, raise if it refuses, then do the work.

The command line, the server's jobs and routes, the app API and the demo call these and
nothing below them, so a task behaves the same wherever it was asked for (the CLI scored a
new adapter where a server job did not, before this module). Each task takes a request, a
plain frozen dataclass of serialisable values (numbers, strings, paths), so that a remote
worker can run it later from a copy of the request; the request's defaults are the task's
defaults, and the front ends read them from here rather than writing their own.

``authorize_*`` only asks the gate (a route answers 403 before queueing anything); the task
asks again when it runs, and the work below asks before every step (``check_in_force``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from likeness.adapters.curation import CurationRules
from likeness.consent.grants import OWNER
from likeness.consent.policy import Decision
from likeness.generate.run import GenerationOptions
from likeness.generate.video import VideoOptions
from likeness.store import Library

if TYPE_CHECKING:
    from likeness.adapters.identity import IdentityScore
    from likeness.adapters.training import TrainedAdapter
    from likeness.consent.activity import ActivityItem
    from likeness.consent.erasure import Erasure
    from likeness.generate.run import GenerationResult
    from likeness.importing import ImportReport, ProgressCallback
    from likeness.people.merges import MergePreview

_RULES = CurationRules()


# -- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRequest:
    """Photos to index: a folder, a Takeout folder or archive."""

    path: str
    #: Scan every photo upsampled for small faces (slow) instead of MTCNN's proposals.
    thorough: bool = False
    #: Worker processes (None: one per core).
    workers: int | None = None


def import_(
    lib: Library, request: ImportRequest, progress: ProgressCallback | None = None
) -> ImportReport:
    """Index the photos (no consent needed: nothing leaves the library, nothing is made)."""
    from likeness.faces.detection import DetectionSettings
    from likeness.importing import import_photos

    return import_photos(
        lib,
        request.path,
        workers=request.workers,
        settings=DetectionSettings(thorough=request.thorough),
        progress=progress,
    )


# -- training ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainRequest:
    """A person's adapter on a base model. Left as None, a training setting takes the
    model's default (``TrainingParams.for_model``)."""

    person: int
    model: str = "tiny-sd15"
    steps: int | None = None
    rank: int | None = None
    learning_rate: float | None = None
    seed: int | None = None
    checkpoint_every: int | None = None
    train_text_encoder: bool | None = None
    min_photos: int = _RULES.min_photos
    max_photos: int = _RULES.max_photos
    resume: bool = False
    #: Score the new adapter's likeness (sampled images against the photo group) after.
    evaluate: bool = True
    eval_steps: int = 25
    device: str | None = None
    requester: str = OWNER


@dataclass(frozen=True)
class TrainOutcome:
    adapter: TrainedAdapter
    identity: IdentityScore | None

    def as_json(self) -> dict:
        return {
            **self.adapter.as_json(),
            "identity": self.identity.as_json() if self.identity else None,
        }


def authorize_train(lib: Library, request: TrainRequest) -> Decision:
    """The gate's allowing Decision for this training, or ``GateError``."""
    from likeness.adapters.training import authorize_training

    decision = authorize_training(lib, request.person, request.model, request.requester)
    return decision.raise_if_denied("training")


def train(
    lib: Library,
    request: TrainRequest,
    progress: Callable[[int, int, float], None] | None = None,
    compute: str | None = None,
) -> TrainOutcome:
    """Train (or resume) the adapter, then score it when ``request.evaluate``.
    ``progress(step, steps, loss)`` hears of every step. ``compute``: where the steps run
    (``likeness.compute.compute_from``; default ``$LIKENESS_COMPUTE``, else here)."""
    from likeness.adapters.identity import evaluate_adapter
    from likeness.adapters.manage import get_adapter
    from likeness.adapters.training import TrainingParams, train_adapter
    from likeness.compute import compute_from
    from likeness.models.registry import get_model

    decision = authorize_train(lib, request)
    params = TrainingParams.for_model(
        get_model(lib, request.model),
        steps=request.steps,
        rank=request.rank,
        learning_rate=request.learning_rate,
        seed=request.seed,
        checkpoint_every=request.checkpoint_every,
        train_text_encoder=request.train_text_encoder,
    )
    trained = train_adapter(
        lib,
        decision,
        request.person,
        request.model,
        params,
        rules=CurationRules(min_photos=request.min_photos, max_photos=request.max_photos),
        resume=request.resume,
        device=request.device,
        progress=progress,
        compute=compute_from(compute),
    )
    score = None
    if request.evaluate:
        adapter = get_adapter(lib, trained.id)
        score = evaluate_adapter(
            lib, decision, request.person, adapter, device=request.device, steps=request.eval_steps
        )
    return TrainOutcome(trained, score)


# -- generation --------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateRequest:
    """A prompt with @mentions, its options, and who asks (``apps.requester``). An app's
    request is read among its token's people only and held to its token's grants
    (``among``, ``within``)."""

    prompt: str
    options: GenerationOptions = field(default_factory=GenerationOptions)
    requester: str = OWNER
    among: tuple[int, ...] | None = None
    within: tuple[str, ...] | None = None

    def as_json(self) -> dict:
        return {**asdict(self), "options": asdict(self.options)}

    @classmethod
    def from_json(cls, data: dict) -> GenerateRequest:
        return cls(
            prompt=data["prompt"],
            options=GenerationOptions(**data["options"]),
            **_requester_from_json(data),
        )


def _requester_from_json(data: dict) -> dict:
    """A request's ``requester``, ``among`` and ``within`` as ``as_json`` wrote them."""

    def tuple_or_none(value):
        return tuple(value) if value is not None else None

    return {
        "requester": data.get("requester", OWNER),
        "among": tuple_or_none(data.get("among")),
        "within": tuple_or_none(data.get("within")),
    }


def _check_app_grants(lib: Library, requester: str, within: tuple[str, ...] | None) -> None:
    """An app's request is held to its token's grants: the app and each of them must be in
    force (``GateError`` otherwise); the owner's passes."""
    from likeness.apps.registry import AppError
    from likeness.apps.requester import Requester
    from likeness.apps.tokens import check_grants_in_force
    from likeness.consent.policy import GateError

    app_id = Requester(requester).app_id
    if app_id is not None:
        try:
            check_grants_in_force(lib, app_id, within or ())
        except AppError as error:
            raise GateError(f"generation refused: {error}") from error


def authorize_generate(lib: Library, request: GenerateRequest) -> Decision:
    """The gate's allowing Decision for this prompt (its people, the style's action, the
    model's kind), or ``GateError``. An unknown style is refused here, with the list. An
    app's request is held to its token's grants: the app and each of them must be in force."""
    from likeness.generate.run import generation_action

    return _authorize_prompt(lib, request, generation_action(request.options.style), "generation")


def _authorize_prompt(
    lib: Library, request: GenerateRequest | VideoRequest, action, work: str
) -> Decision:
    """The gate's allowing Decision for ``action`` on a prompt request's people, or
    ``GateError`` ("``work`` refused: ..."): its style known (else the list of styles), an
    app held to its token's grants, the prompt read among its people."""
    from likeness.generate.run import authorize_prompt
    from likeness.generate.styles import get_style

    get_style(request.options.style)
    _check_app_grants(lib, request.requester, request.within)
    decision = authorize_prompt(
        lib,
        request.prompt,
        action,
        request.options.model,
        request.requester,
        among=request.among,
        within=request.within,
    )
    return decision.raise_if_denied(work)


def generate(
    lib: Library,
    request: GenerateRequest,
    out_dir: Path,
    progress: Callable[[int, int, int], None] | None = None,
    compute: str | None = None,
) -> GenerationResult:
    """Generate into ``out_dir``: every image passes the safety gate before it is written,
    and leaves signed and watermarked. ``progress(image, step, steps)``. ``compute``: where
    the images are sampled (as for ``train``); the gates and the stamping run here."""
    from likeness.generate.run import generate_images

    decision = authorize_generate(lib, request)
    return _sampled(generate_images, lib, decision, request, out_dir, progress, compute)


def _sampled(
    run: Callable[..., GenerationResult],
    lib: Library,
    decision: Decision,
    request: GenerateRequest | VideoRequest,
    out_dir: Path,
    progress: Callable[[int, int, int], None] | None,
    compute: str | None,
) -> GenerationResult:
    """``run`` (images or clips) of ``request`` under ``decision``, sampled where
    ``compute`` names (``likeness.compute.compute_from``)."""
    from likeness.compute import compute_from

    return run(
        lib,
        decision,
        request.prompt,
        out_dir,
        request.options,
        progress=progress,
        compute=compute_from(compute),
    )


# -- video -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoRequest:
    """A clip's prompt with @mentions, its options, and who asks (``among`` and ``within``
    as for images)."""

    prompt: str
    options: VideoOptions = field(default_factory=VideoOptions)
    requester: str = OWNER
    among: tuple[int, ...] | None = None
    within: tuple[str, ...] | None = None

    def as_json(self) -> dict:
        return {**asdict(self), "options": asdict(self.options)}

    @classmethod
    def from_json(cls, data: dict) -> VideoRequest:
        return cls(
            prompt=data["prompt"],
            options=VideoOptions(**data["options"]),
            **_requester_from_json(data),
        )


def authorize_video(lib: Library, request: VideoRequest) -> Decision:
    """The gate's allowing Decision for this clip (``generate-video`` on its people, whatever
    the style), or ``GateError``; an app's request held to its token's grants."""
    from likeness.consent.policy import Action

    return _authorize_prompt(lib, request, Action.GENERATE_VIDEO, "video")


def generate_video(
    lib: Library,
    request: VideoRequest,
    out_dir: Path,
    progress: Callable[[int, int, int], None] | None = None,
    compute: str | None = None,
) -> GenerationResult:
    """Generate clips into ``out_dir``: every frame of each passes the safety gate before the
    clip is written, and it leaves signed and watermarked. ``progress(clip, step, steps)``.
    ``compute``: where the frames are sampled (as for ``train``); the gates and the stamping
    run here."""
    from likeness.generate.video import generate_video as run

    decision = authorize_video(lib, request)
    return _sampled(run, lib, decision, request, out_dir, progress, compute)


# -- export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """The person's newest adapter as a plain file, in ``format`` (diffusers or kohya)."""

    person: int
    out: str
    format: str = "diffusers"
    requester: str = OWNER


def authorize_export(lib: Library, request: ExportRequest) -> Decision:
    """The gate's allowing Decision for exporting the person's newest adapter, or
    ``GateError``."""
    from likeness.adapters import export

    decision = export.authorize_export(lib, request.person, request.requester)
    return decision.raise_if_denied("export")


def export(lib: Library, request: ExportRequest) -> Path:
    """Write the export (unencrypted: revoking consent later cannot reach the copy)."""
    from likeness.adapters.export import export_adapter

    decision = authorize_export(lib, request)
    return export_adapter(lib, decision, request.person, request.format, Path(request.out))


# -- erase -------------------------------------------------------------------------------


def erase(lib: Library, person_id: int, by: str = OWNER) -> Erasure:
    """Erase a person's biometric data and mark them do-not-generate
    (``consent.erasure.erase_biometric_data``), then delete every adapter trained on them:
    their key is gone already, so the files are unreadable; this removes them. One still in
    training stops at its next step (the gate refuses now) and its files go now."""
    from dataclasses import replace

    from likeness.adapters.manage import AdapterBusyError, list_adapters, remove_adapter
    from likeness.adapters.storage import delete_files
    from likeness.consent.erasure import erase_biometric_data

    done = erase_biometric_data(lib, person_id, by=by)
    deleted = 0
    for info in list_adapters(lib, person_id):
        try:
            remove_adapter(lib, info.id, by=by)
        except AdapterBusyError:
            delete_files(lib, info.person_uid, info.id)
        deleted += 1
    return replace(done, adapters_deleted=deleted)


# -- a person's activity -----------------------------------------------------------------


def person_activity(lib: Library, person_id: int, limit: int = 200) -> list[ActivityItem]:
    """What happened about this person, newest first, in words (``consent.activity``), each
    image released showing them with its Content Credentials (watermark id, file hash)."""
    from dataclasses import replace

    from likeness.apps.registry import list_apps
    from likeness.consent.activity import activity
    from likeness.provenance.stamp import released_images

    items = activity(lib, person_id, limit, {app.id: app.name for app in list_apps(lib)})
    released = released_images(lib, [i.seq for i in items if i.kind == "safety"])
    return [replace(i, provenance=released.get(i.seq)) for i in items]


# -- merging people ------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeConsequence:
    """A merge's preview (``people.merges.MergePreview``) with what stops applying with the
    merged person: their permissions in force and their ready adapters name their uid,
    which the merge deletes (an undo brings it back, and them with it)."""

    preview: MergePreview
    grants_left: int
    adapters_left: int

    def as_json(self) -> dict:
        return {
            **self.preview.as_json(),
            "grants_left": self.grants_left,
            "adapters_left": self.adapters_left,
        }


def preview_merge(lib: Library, target_id: int, others: list[int]) -> list[MergeConsequence]:
    """What merging ``others`` into ``target_id``, in that order, would do, and what would
    stop applying; changes nothing."""
    from likeness import clock
    from likeness.adapters.manage import list_adapters
    from likeness.adapters.tables import AdapterStatus
    from likeness.consent.grants import grants_for
    from likeness.people.merges import preview_merges
    from likeness.people.records import get_person

    now = clock.now()
    previews = preview_merges(lib, target_id, others)
    with lib.session() as s:
        uids = [get_person(s, p.other.id).uid for p in previews]
    found = []
    for preview, uid in zip(previews, uids, strict=True):
        found.append(
            MergeConsequence(
                preview,
                sum(g.in_force(now) for g in grants_for(lib, uid)),
                sum(a.status == AdapterStatus.READY for a in list_adapters(lib, preview.other.id)),
            )
        )
    return found
