"""A software WebAuthn authenticator: what a phone's passkey store does, for tests that
drive the passkey routes without a browser (the browser tests use Chromium's virtual
authenticator instead).

It makes ES256 (P-256) credentials with "none" attestation, as platform authenticators do
for sites that ask for none, and signs assertions over ``authenticatorData ||
SHA-256(clientDataJSON)`` with a counter that goes up. Everything a relying party verifies
is real: ``webauthn`` checks these exactly as it checks a phone's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    rp_id: str
    user_handle: bytes
    key: ec.EllipticCurvePrivateKey
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """Holds passkeys by relying party, as a phone does."""

    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict[str, Any], origin: str) -> dict[str, Any]:
        """Answer ``navigator.credentials.create`` with ``options`` (the server's JSON):
        the credential's JSON, as ``PublicKeyCredential.toJSON`` gives it."""
        rp_id = options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        credential = Credential(
            secrets.token_bytes(32), rp_id, _unb64url(options["user"]["id"]), key
        )
        numbers = key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = (
            bytes(16) + struct.pack(">H", len(credential.credential_id)) + credential.credential_id
        )
        auth_data = self._auth_data(rp_id, 0x45, 0) + attested + cose
        client = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self, options: dict[str, Any], origin: str, credential: Credential | None = None
    ) -> dict[str, Any]:
        """Answer ``navigator.credentials.get``: an assertion by ``credential`` (by default
        the newest passkey held for the options' relying party)."""
        rp_id = options["rpId"]
        if credential is None:
            credential = next(c for c in reversed(self.credentials) if c.rp_id == rp_id)
        credential.sign_count += 1
        auth_data = self._auth_data(rp_id, 0x05, credential.sign_count)
        client = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(
            auth_data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    @staticmethod
    def _auth_data(rp_id: str, flags: int, count: int) -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count)

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()
