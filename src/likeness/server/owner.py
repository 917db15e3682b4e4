"""The owner's passphrase: what signs a browser in to the local server.

Stored in the library's settings as a scrypt hash (a slow, memory-hard KDF: about 0.1 s and
32 MiB a try, so a stolen catalog does not give the passphrase away cheaply), never in clear.
"""

from __future__ import annotations

import base64
import hmac
import secrets

from likeness.errors import InvalidError
from likeness.store import Library
from likeness.store.tables import Setting

PASSPHRASE_KEY = "owner_passphrase"
MIN_PASSPHRASE_CHARS = 10
#: scrypt cost: N=2^15, r=8, p=1 (OWASP's recommended minimum for scrypt).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class PassphraseError(InvalidError):
    """A passphrase too short, or none set where one is needed."""


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    # surrogatepass: a lone surrogate (valid JSON, not valid UTF-8) is a wrong passphrase,
    # not an error.
    data = passphrase.encode("utf-8", "surrogatepass")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(data)


def set_owner_passphrase(lib: Library, passphrase: str) -> None:
    """Set (or replace) the owner's passphrase."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise PassphraseError(
            f"the passphrase must be at least {MIN_PASSPHRASE_CHARS} characters long"
        )
    salt = secrets.token_bytes(16)
    digest = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.urlsafe_b64encode
    value = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"
    with lib.session() as s:
        s.merge(Setting(key=PASSPHRASE_KEY, value=value))


def has_owner_passphrase(lib: Library) -> bool:
    with lib.session() as s:
        return s.get(Setting, PASSPHRASE_KEY) is not None


def check_owner_passphrase(lib: Library, passphrase: str) -> bool:
    """Whether ``passphrase`` is the owner's (False when none is set)."""
    with lib.session() as s:
        row = s.get(Setting, PASSPHRASE_KEY)
        stored = row.value if row is not None else None
    if stored is None:
        return False
    kind, n, r, p, salt, digest = stored.split("$")
    if kind != "scrypt":
        return False
    b64d = base64.urlsafe_b64decode
    candidate = _derive(passphrase, b64d(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate, b64d(digest))


DEVICE_KEY = "device_cookie_key"


def device_cookie_key(lib: Library) -> bytes:
    """The key this library's server signs device cookies with (made on first use). A device
    cookie only says "this browser signed in here before" to the sign-in guard; it is no
    credential, so the key may live in the catalog."""
    with lib.session() as s:
        row = s.get(Setting, DEVICE_KEY)
        if row is None:
            row = Setting(key=DEVICE_KEY, value=secrets.token_hex(32))
            s.add(row)
        return bytes.fromhex(row.value)
