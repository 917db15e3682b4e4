"""Take a consent grant to another likeness install: export a bundle, import it.

A person who enrolled on their own install exports a verified grant: the signed grant
document, the signature and the issuing install's public key, plus their enrolment template
and the salt of its commitment. The receiving install (``import_grant``) checks that:

- the signature verifies with the enclosed key (the document is exactly what was signed);
- the template matches the commitment the signed grant carries as evidence;
- the template matches *this* library's photo group for the person it is imported for.

It then records a local grant with the same scopes and expiry, at trust level ``attested``:
the receiving install did not watch the live check itself, so the imported grant drives only
the built-in tiny models until the person enrols here too. The bundle holds a biometric
template: it is the person's own data, handed over by them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

import numpy as np

from likeness import clock
from likeness.consent.enrolment import template_commitment
from likeness.consent.grants import (
    ConsentGrant,
    GrantError,
    Scope,
    Trust,
    get_grant,
    issue_grant,
)
from likeness.consent.tables import ConsentGrantRecord, Enrolment
from likeness.people.identity import photo_group
from likeness.people.records import get_person
from likeness.store import Library
from likeness.store.keys import KeyDestroyedError, unseal

FORMAT = "likeness-grant-bundle-1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def export_grant(lib: Library, grant_id: str, now: datetime | None = None) -> dict:
    """A bundle for a verified grant in force (refused once revoked: the key is gone)."""
    now = clock.now(now)
    grant = get_grant(lib, grant_id)
    if not grant.in_force(now):
        raise GrantError(f"grant {grant_id} is not in force (revoked, expired or tampered)")
    if grant.trust != Trust.VERIFIED:
        raise GrantError("only verified grants (backed by a live enrolment) can be exported")
    enrolment_id = next(
        (e.split(":", 1)[1] for e in grant.evidence if e.startswith("enrolment:")), None
    )
    with lib.session() as s:
        record = s.get(ConsentGrantRecord, grant_id)
        enrolment = s.get(Enrolment, enrolment_id) if enrolment_id else None
    if enrolment is None or enrolment.template_sealed is None:
        raise GrantError("the enrolment behind this grant holds no template to export")
    try:
        key = lib.keys.person_key(grant.subject_uid)
    except KeyDestroyedError as exc:
        raise GrantError(str(exc)) from None
    template = unseal(key, enrolment.template_sealed, grant.subject_uid.encode())
    return {
        "format": FORMAT,
        "document": _b64(record.document),
        "signature": _b64(record.signature),
        "issuer_public_key": _b64(lib.keys.public_key_bytes()),
        "template": _b64(template),
        "template_salt": _b64(enrolment.template_salt),
    }


def import_grant(
    lib: Library, bundle: dict, person_id: int, now: datetime | None = None
) -> ConsentGrant:
    """Check a bundle from another install and record it here as an attested grant."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    now = clock.now(now)
    try:
        if bundle.get("format") != FORMAT:
            raise GrantError(f"not a likeness grant bundle ({FORMAT})")
        document = base64.b64decode(bundle["document"])
        signature = base64.b64decode(bundle["signature"])
        issuer = base64.b64decode(bundle["issuer_public_key"])
        template = np.frombuffer(base64.b64decode(bundle["template"]), dtype="<f4")
        salt = base64.b64decode(bundle["template_salt"])
        Ed25519PublicKey.from_public_bytes(issuer).verify(signature, document)
        doc = json.loads(document)
    except InvalidSignature:
        raise GrantError("the grant's signature does not verify: it was altered") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise GrantError(f"malformed grant bundle: {exc}") from None
    if doc.get("trust") != str(Trust.VERIFIED):
        raise GrantError("only grants backed by a live enrolment can be imported")
    expires_at = doc.get("expires_at")
    expires = clock.utc(datetime.fromisoformat(expires_at)) if expires_at else None
    if expires is not None and now >= expires:
        raise GrantError("the grant has expired")
    commitment = template_commitment(salt, template)
    if f"template-commitment:{commitment}" not in doc.get("evidence", []):
        raise GrantError("the template is not the one the signed grant commits to")
    with lib.session() as s:
        get_person(s, person_id)
        group = photo_group(s, person_id)
    if group is None:
        raise GrantError(f"person {person_id} has no faces here to match the template against")
    if not group.matches(template):
        raise GrantError(
            f"the enrolled face does not match person {person_id} here "
            f"(distance {group.distance(template):.2f} >= {group.match_distance})"
        )
    fingerprint = hashlib.sha256(issuer).hexdigest()[:16]
    return issue_grant(
        lib,
        person_id,
        [Scope(x) for x in doc["scopes"]],
        Trust.ATTESTED,
        grantee=doc.get("grantee", "owner"),
        expires_in=(expires - now) if expires else None,
        evidence=(
            f"imported:{doc['id']}",
            f"issuer:{fingerprint}",
            f"template-commitment:{commitment}",
        ),
        now=now,
    )
