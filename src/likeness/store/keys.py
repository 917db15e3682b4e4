"""Keys under LIKENESS_HOME/keys (mode 0700, files 0600).

- The library's Ed25519 signing key: signs consent grants and the audit log's head. Made at
  ``likeness init`` (or on first use).
- One random 256-bit key per person, which encrypts that person's adapters (later issues).
  Revoking consent destroys it, so every copy of those adapters becomes unreadable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from likeness.errors import NotFoundError

SIGNING_KEY_FILE = "library.ed25519"


class KeyDestroyedError(NotFoundError):
    """The person's key is gone (consent was revoked): their adapters cannot be read."""


def _private_tmp(path: Path, data: bytes) -> Path:
    """``data`` in a new 0600 file beside ``path``, named for this writer alone (two writers
    at once never move each other's), flushed to disk."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def write_private(path: Path, data: bytes) -> None:
    """Create a 0600 file atomically, never leaving a readable partial file behind."""
    os.replace(_private_tmp(path, data), path)


def create_private_once(path: Path, data: bytes) -> bytes:
    """Create the 0600 file ``path`` holding ``data`` unless it exists; either way, return
    what it holds. Of several processes creating it at once (a server and a job's process,
    two servers on one library) exactly one's content lands and every one gets that: a key
    made twice and overwritten would leave what was sealed or signed with the first
    unreadable."""
    tmp = _private_tmp(path, data)
    try:
        os.link(tmp, path)  # fails if the file is there: the first one made stays
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents as 0700 (folders that exist are left as they
    are: a user's own folder is theirs to set)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        f.mkdir(mode=0o700, exist_ok=True)
        os.chmod(f, 0o700)  # mkdir's mode is narrowed by the umask, never widened: be exact


class KeyStore:
    def __init__(self, home: Path) -> None:
        self.dir = home / "keys"
        self.dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "people").mkdir(mode=0o700, exist_ok=True)
        self._signing_key = None  # loaded on first use, then kept: every grant check needs it

    # -- the library signing key ------------------------------------------------------------
    def signing_key(self):
        """The library's Ed25519 private key, created on first use."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if self._signing_key is not None:
            return self._signing_key
        path = self.dir / SIGNING_KEY_FILE
        if path.exists():
            raw = path.read_bytes()
        else:
            from cryptography.hazmat.primitives import serialization

            raw = create_private_once(
                path,
                Ed25519PrivateKey.generate().private_bytes(
                    serialization.Encoding.Raw,
                    serialization.PrivateFormat.Raw,
                    serialization.NoEncryption(),
                ),
            )
        self._signing_key = Ed25519PrivateKey.from_private_bytes(raw)
        return self._signing_key

    def public_key_bytes(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return (
            self.signing_key()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    # -- per-person keys --------------------------------------------------------------------
    def _person_path(self, person_uid: str) -> Path:
        if not person_uid.isalnum():
            raise ValueError(f"bad person uid {person_uid!r}")
        return self.dir / "people" / f"{person_uid}.key"

    def person_key(self, person_uid: str, create: bool = False) -> bytes:
        path = self._person_path(person_uid)
        if not path.exists():
            if not create:
                raise KeyDestroyedError(f"no key for person {person_uid} (never made, or revoked)")
            return create_private_once(path, secrets.token_bytes(32))
        return path.read_bytes()

    def has_person_key(self, person_uid: str) -> bool:
        """Whether the person's key exists (it is gone once consent was revoked)."""
        return self._person_path(person_uid).exists()

    def destroy_person_key(self, person_uid: str) -> bool:
        """Overwrite and delete the person's key. True if there was one."""
        path = self._person_path(person_uid)
        if not path.exists():
            return False
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(secrets.token_bytes(size))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
        return True


def seal(key: bytes, data: bytes, context: bytes) -> bytes:
    """AES-256-GCM: nonce + ciphertext (authenticated, bound to ``context``)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, data, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key).decrypt(sealed[:12], sealed[12:], context)
