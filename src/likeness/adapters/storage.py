"""Adapter files at rest: encrypted with the person's key (AES-256-GCM), in the vault.

``vault/adapters/<person uid>/<adapter id>.lora`` holds the sealed safetensors file of the LoRA
weights (with its metadata); ``.ckpt`` the sealed training checkpoint while training runs.
Revoking the person's consent destroys their key: every copy of these files, wherever it was
copied to, becomes noise. The loss curve (``-loss.png``) holds no likeness and is plain.
"""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select

from likeness.errors import ConflictError
from likeness.store import Library
from likeness.store.keys import KeyDestroyedError, seal, unseal, write_private


class AdapterUnreadableError(ConflictError):
    """The adapter's key is gone (consent revoked) or its file was altered."""


def adapter_dir(lib: Library, person_uid: str) -> Path:
    folder = lib.vault / "adapters" / person_uid
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def adapter_path(lib: Library, person_uid: str, adapter_id: str) -> Path:
    return adapter_dir(lib, person_uid) / f"{adapter_id}.lora"


def checkpoint_path(lib: Library, person_uid: str, adapter_id: str) -> Path:
    return adapter_dir(lib, person_uid) / f"{adapter_id}.ckpt"


def loss_curve_path(lib: Library, person_uid: str, adapter_id: str) -> Path:
    return adapter_dir(lib, person_uid) / f"{adapter_id}-loss.png"


def _context(kind: str, adapter_id: str) -> bytes:
    return f"likeness-adapter:{kind}:{adapter_id}".encode()


def write_sealed(lib: Library, person_uid: str, path: Path, kind: str, data: bytes) -> None:
    """Encrypt ``data`` with the person's key and write it atomically (0600). Their key is
    made if it is missing, except for a person who asked never to be generated (their key
    was destroyed on purpose): ``ConsentWithdrawnError``."""
    from likeness.consent.policy import ConsentWithdrawnError
    from likeness.people.tables import Person

    with lib.session() as s:
        never = s.scalar(select(Person.do_not_generate).where(Person.uid == person_uid))
    if never and not lib.keys.has_person_key(person_uid):
        raise ConsentWithdrawnError("the person asked never to be generated")
    key = lib.keys.person_key(person_uid, create=True)
    write_private(path, seal(key, data, _context(kind, path.stem)))


def read_sealed(lib: Library, person_uid: str, path: Path, kind: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        key = lib.keys.person_key(person_uid)
    except KeyDestroyedError:
        raise AdapterUnreadableError(
            f"{path.name}: the person's key is destroyed (consent was revoked); "
            "this adapter can never be read again"
        ) from None
    try:
        return unseal(key, path.read_bytes(), _context(kind, path.stem))
    except FileNotFoundError:
        raise AdapterUnreadableError(f"{path}: the adapter file is missing") from None
    except InvalidTag:
        raise AdapterUnreadableError(f"{path.name}: altered or not this person's file") from None


def save_weights(lib: Library, person_uid: str, adapter_id: str, state: dict, meta: dict) -> Path:
    from safetensors.torch import save

    path = adapter_path(lib, person_uid, adapter_id)
    data = save({k: v.detach().cpu().contiguous() for k, v in state.items()}, metadata=meta)
    write_sealed(lib, person_uid, path, "weights", data)
    return path


def load_weights(lib: Library, person_uid: str, adapter_id: str) -> tuple[dict, dict]:
    """(state dict, metadata) of a stored adapter, decrypted in memory only."""
    from safetensors.torch import load

    data = read_sealed(lib, person_uid, adapter_path(lib, person_uid, adapter_id), "weights")
    return load(data), safetensors_metadata(data)


def safetensors_metadata(data: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file held in memory (its JSON header)."""
    import json
    import struct

    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]).get("__metadata__", {})


def save_checkpoint(lib: Library, person_uid: str, adapter_id: str, checkpoint: dict) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    path = checkpoint_path(lib, person_uid, adapter_id)
    write_sealed(lib, person_uid, path, "checkpoint", buffer.getvalue())


def load_checkpoint(lib: Library, person_uid: str, adapter_id: str) -> dict:
    import torch

    path = checkpoint_path(lib, person_uid, adapter_id)
    data = read_sealed(lib, person_uid, path, "checkpoint")
    return torch.load(io.BytesIO(data), weights_only=True)


def delete_files(lib: Library, person_uid: str, adapter_id: str) -> None:
    """Remove an adapter's weights, checkpoint and loss curve (any that exist)."""
    for path in (
        adapter_path(lib, person_uid, adapter_id),
        checkpoint_path(lib, person_uid, adapter_id),
        loss_curve_path(lib, person_uid, adapter_id),
    ):
        path.unlink(missing_ok=True)
        path.with_suffix(path.suffix + ".tmp").unlink(missing_ok=True)
