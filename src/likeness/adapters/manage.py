"""List, find, remove and load a person's adapters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from likeness.adapters import storage
from likeness.adapters.tables import AdapterRecord, AdapterStatus
from likeness.errors import ConflictError, NotFoundError
from likeness.people.records import get_person, person_id_of, person_ids_by_uid
from likeness.store import Library


class AdapterNotFoundError(NotFoundError):
    """No such adapter, or none ready for this person and model."""


@dataclass(frozen=True)
class AdapterInfo:
    id: str
    person_id: int | None  # None when the person is gone (merged away, deleted)
    person_uid: str
    base_model: str
    base_model_sha256: str
    family: str
    trigger: str
    status: AdapterStatus
    steps_done: int
    params: dict
    created_at: datetime
    finished_at: datetime | None
    metrics: dict | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "person": self.person_id,
            "base_model": self.base_model,
            "base_model_sha256": self.base_model_sha256,
            "family": self.family,
            "trigger": self.trigger,
            "status": str(self.status),
            "steps_done": self.steps_done,
            "rank": self.params.get("rank"),
            "steps": self.params.get("steps"),
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "identity": (self.metrics or {}).get("identity"),
        }


def _info(lib: Library, r: AdapterRecord, person_id: int | None) -> AdapterInfo:
    status = AdapterStatus(r.status)
    if status in (AdapterStatus.READY, AdapterStatus.TRAINING) and not lib.keys.has_person_key(
        r.person_uid
    ):
        status = (
            AdapterStatus.DESTROYED
        )  # consent was revoked: the key, and with it the weights, are gone
    return AdapterInfo(
        id=r.id,
        person_id=person_id,
        person_uid=r.person_uid,
        base_model=r.base_model,
        base_model_sha256=r.base_model_sha256,
        family=r.family,
        trigger=r.trigger,
        status=status,
        steps_done=r.steps_done,
        params=json.loads(r.params),
        created_at=r.created_at,
        finished_at=r.finished_at,
        metrics=json.loads(r.metrics) if r.metrics else None,
    )


def list_adapters(lib: Library, person_id: int | None = None) -> list[AdapterInfo]:
    """Adapters, newest first (with ``person_id``, only that person's)."""
    with lib.session() as s:
        people = person_ids_by_uid(s)
        stmt = select(AdapterRecord).order_by(AdapterRecord.created_at.desc(), AdapterRecord.id)
        if person_id is not None:
            person = get_person(s, person_id)
            stmt = stmt.where(AdapterRecord.person_uid == person.uid)
        records = s.scalars(stmt).all()
    return [_info(lib, r, people.get(r.person_uid)) for r in records]


def get_adapter(lib: Library, adapter_id: str) -> AdapterInfo:
    with lib.session() as s:
        r = s.get(AdapterRecord, adapter_id)
        if r is None:
            raise AdapterNotFoundError(f"no adapter with id {adapter_id}")
        person = person_id_of(s, r.person_uid)
    return _info(lib, r, person)


def latest_adapter(lib: Library, person_id: int, model: str | None = None) -> AdapterInfo:
    """The person's newest ready adapter (on ``model`` if given)."""
    for a in list_adapters(lib, person_id):
        if a.status == AdapterStatus.READY and (model is None or a.base_model == model):
            return a
    on = f" on {model}" if model else ""
    raise AdapterNotFoundError(
        f"person {person_id} has no ready adapter{on}; train one with `likeness adapter train`"
    )


class AdapterBusyError(ConflictError):
    """An adapter still being trained (stop its job first)."""


def remove_adapter(lib: Library, adapter_id: str, by: str | None = None) -> None:
    """Delete an adapter's files and its record, recorded in the audit log with who asked
    (``by``: the owner by default, or ``audit.person_actor(uid)``, whose own it must be:
    any other is not found for them). One still being trained is refused: its job would
    write it again."""
    from likeness.consent import audit

    by = by or audit.OWNER
    info = get_adapter(lib, adapter_id)
    if by not in (audit.OWNER, audit.person_actor(info.person_uid)):
        raise AdapterNotFoundError(f"no adapter with id {adapter_id}")
    if info.status == AdapterStatus.TRAINING:
        raise AdapterBusyError("this adapter is being trained: cancel its job first")
    storage.delete_files(lib, info.person_uid, adapter_id)
    with lib.session() as s:
        s.delete(s.get(AdapterRecord, adapter_id))
        audit.append(
            lib,
            s,
            "adapter-delete",
            {"adapter": adapter_id, "subject": info.person_uid, "by": by},
        )


def adapter_name(info: AdapterInfo) -> str:
    """The name an adapter is loaded under in a diffusers pipeline."""
    return f"likeness_{info.id[:12]}"


def adapter_weights(lib: Library, info: AdapterInfo) -> dict:
    """The adapter's LoRA weights, decrypted in memory (never written in the clear)."""
    if info.status != AdapterStatus.READY:
        raise AdapterNotFoundError(f"adapter {info.id} is {info.status}, not ready")
    state, _ = storage.load_weights(lib, info.person_uid, info.id)
    return state


def load_weights_into_pipeline(pipe, state: dict, name: str, weight: float = 1.0) -> str:
    """Load LoRA weights into ``pipe`` under ``name`` with diffusers' ``load_lora_weights``
    (the call a plain diffusers user makes with an exported file). Returns ``name``."""
    import warnings

    with warnings.catch_warnings():  # several people's adapters in one model is the point
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        pipe.load_lora_weights(state, adapter_name=name)
    pipe.set_adapters([name], [weight])
    return name


def load_into_pipeline(lib: Library, pipe, info: AdapterInfo, weight: float = 1.0) -> str:
    """Decrypt the adapter in memory and load it into ``pipe``. Returns the adapter's name
    in the pipeline."""
    return load_weights_into_pipeline(pipe, adapter_weights(lib, info), adapter_name(info), weight)
