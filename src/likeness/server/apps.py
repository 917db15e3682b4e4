"""Third-party apps: registered by the owner, approved for some people and scopes, holding
short-lived access tokens.

An app is an OAuth 2 public client (authorization code with PKCE; the protocol itself is
Authlib's, in ``server.oauth``). What is decided here is what a token is worth:

- the owner registers an app (a name and one exact redirect URI: https, or http on
  loopback for apps on this machine);
- approving an app's request signs a consent grant per person, to ``app:<id>``, for the
  scopes asked (``approve``): the gate (``consent.policy``) then takes the app's requests
  as ``requester = app:<id>``, as it takes the owner's;
- a token is good only while the app, the token and, for every person it covers, a grant
  to the app are in force (``check_token``): revoking the app or any of those grants stops
  it at once;
- codes and tokens are stored as SHA-256 hashes only; a code is single use, and a code
  presented twice revokes the token it was exchanged for (RFC 6749, section 4.1.2).

An app never gets embeddings, adapters or source photos: its API (``server.oauth``) lists the
people it may ask for by id and name, and returns generated images (signed, watermarked).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit

from sqlalchemy import select, update

from likeness.consent import audit
from likeness.consent.grants import Scope, Trust, issue_grant, list_grants, revoke_grant
from likeness.errors import LikenessError
from likeness.store import Library
from likeness.store.models import App as AppRecord
from likeness.store.models import AppCode, AppToken, Person

#: What an app may ask for: generations. Training and exporting adapters stay the owner's.
APP_SCOPES = (Scope.GENERATE_STYLIZED.value, Scope.GENERATE_PHOTOREAL.value)
CODE_TTL = timedelta(minutes=1)
TOKEN_TTL = timedelta(hours=1)


class AppError(LikenessError, ValueError):
    """An app that cannot be registered or approved, or a token that is no good."""


class AppNotFoundError(AppError, LookupError):
    """No app with that id."""


@dataclass(frozen=True)
class App:
    id: str
    name: str
    redirect_uri: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def grantee(self) -> str:
        return f"app:{self.id}"

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "redirect_uri": self.redirect_uri,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class TokenGrant:
    """What a valid token lets its app do."""

    app_id: str
    scopes: tuple[str, ...]
    people: tuple[int, ...]
    expires_at: datetime

    @property
    def requester(self) -> str:
        return f"app:{self.app_id}"


def new_secret() -> str:
    """A code or token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now(now: datetime | None = None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _app(record: AppRecord) -> App:
    return App(record.id, record.name, record.redirect_uri, record.created_at, record.revoked_at)


def check_redirect_uri(uri: str) -> str:
    """An app's redirect URI: absolute, no fragment, https, or http on a loopback address."""
    parts = urlsplit(uri)
    if parts.fragment or not parts.hostname or parts.scheme not in ("https", "http"):
        raise AppError(f"{uri!r}: a redirect URI is an absolute http(s) URL without a fragment")
    if parts.scheme == "http":
        host = parts.hostname
        loopback = host == "localhost"
        if not loopback:
            try:
                loopback = ip_address(host).is_loopback
            except ValueError:
                loopback = False
        if not loopback:
            raise AppError(f"{uri!r}: plain http is allowed only on loopback; use https")
    return uri


def register_app(lib: Library, name: str, redirect_uri: str, now: datetime | None = None) -> App:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AppError("an app's name is 1 to 100 characters")
    record = AppRecord(
        id=secrets.token_hex(16),
        name=name,
        redirect_uri=check_redirect_uri(redirect_uri),
        created_at=_now(now),
        revoked_at=None,
    )
    with lib.session() as s:
        s.add(record)
        audit.append(lib, s, "app-registered", {"app": record.id})
    return _app(record)


def get_app(lib: Library, app_id: str) -> App:
    with lib.session() as s:
        record = s.get(AppRecord, app_id)
        if record is None:
            raise AppNotFoundError(f"no app with id {app_id}")
        return _app(record)


def list_apps(lib: Library) -> list[App]:
    with lib.session() as s:
        return [_app(r) for r in s.scalars(select(AppRecord).order_by(AppRecord.created_at))]


def revoke_app(lib: Library, app_id: str, now: datetime | None = None) -> App:
    """Revoke the app, its tokens and every grant to it, at once."""
    now = _now(now)
    app = get_app(lib, app_id)
    for grant, _ in list_grants(lib):
        if grant.grantee == app.grantee and grant.revoked_at is None:
            revoke_grant(lib, grant.id, f"app {app.id} revoked", now)
    with lib.session() as s:
        record = s.get(AppRecord, app_id)
        if record.revoked_at is None:
            record.revoked_at = now
        s.execute(
            update(AppToken)
            .where(AppToken.app_id == app_id, AppToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        audit.append(lib, s, "app-revoked", {"app": app_id})
        return _app(record)


def app_scopes(scope: str) -> list[str]:
    """The scopes of a space-separated OAuth ``scope``, all of them ones an app may have."""
    scopes = list(dict.fromkeys(scope.split()))
    unknown = [x for x in scopes if x not in APP_SCOPES]
    if not scopes or unknown:
        raise AppError(f"an app may ask for {', '.join(APP_SCOPES)}; not {unknown or scope!r}")
    return scopes


def approve(
    lib: Library,
    app_id: str,
    people: list[int],
    scopes: list[str],
    days: int,
    enrolment_id: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """The owner's approval of an app's request: a grant to the app for each person, for
    these scopes, expiring after ``days``. With ``enrolment_id`` (one person's passed live
    enrolment) the grant is verified, and lets the app use real models; without, the owner
    attests for each person, and the gate lets attested grants drive the tiny models only.
    Returns the grant ids."""
    app = get_app(lib, app_id)
    if app.revoked_at is not None:
        raise AppError(f"app {app_id} is revoked")
    if not people:
        raise AppError("choose at least one person for the app")
    if not 1 <= days <= 365:
        raise AppError("an app's grant lasts 1 to 365 days")
    if enrolment_id and len(people) != 1:
        raise AppError("an enrolment verifies one person: choose only that person")
    with lib.session() as s:
        minors = s.scalars(
            select(Person.id).where(Person.id.in_(people), Person.is_minor.is_(True))
        ).all()
    if minors:
        raise AppError(f"person {minors[0]} is marked as a minor: no app may ask for them")
    chosen = [Scope(s) for s in app_scopes(" ".join(scopes))]
    return [
        issue_grant(
            lib,
            person,
            chosen,
            Trust.VERIFIED if enrolment_id else Trust.ATTESTED,
            grantee=app.grantee,
            expires_in=timedelta(days=days),
            enrolment_id=enrolment_id or None,
            now=now,
        ).id
        for person in people
    ]


def save_code(
    lib: Library,
    code: str,
    app_id: str,
    redirect_uri: str,
    scope: str,
    people: list[int],
    code_challenge: str,
    code_challenge_method: str,
    now: datetime | None = None,
) -> None:
    with lib.session() as s:
        s.add(
            AppCode(
                code_hash=digest(code),
                app_id=app_id,
                redirect_uri=redirect_uri,
                scope=scope,
                people=json.dumps(people),
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                expires_at=_now(now) + CODE_TTL,
                used_at=None,
            )
        )


@dataclass(frozen=True)
class Code:
    """An authorization code being exchanged (the fields Authlib's grant reads)."""

    code_hash: str
    app_id: str
    redirect_uri: str
    scope: str
    people: tuple[int, ...]
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def take_code(lib: Library, code: str, app_id: str, now: datetime | None = None) -> Code | None:
    """The unexpired, unused code of this app (None otherwise). A code presented again
    revokes the token it was exchanged for: someone else holds it."""
    now = _now(now)
    with lib.session() as s:
        row = s.get(AppCode, digest(code))
        if row is None or row.app_id != app_id:
            return None
        if row.used_at is not None:
            s.execute(
                update(AppToken)
                .where(AppToken.code_hash == row.code_hash, AppToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            audit.append(lib, s, "app-code-replayed", {"app": app_id})
            return None
        if row.expires_at < now:
            return None
        return Code(
            row.code_hash,
            row.app_id,
            row.redirect_uri,
            row.scope,
            tuple(json.loads(row.people)),
            row.code_challenge,
            row.code_challenge_method,
        )


def spend_code(lib: Library, code: Code, now: datetime | None = None) -> None:
    with lib.session() as s:
        s.get(AppCode, code.code_hash).used_at = _now(now)


def save_token(lib: Library, token: str, code: Code, now: datetime | None = None) -> datetime:
    """Store an access token issued on ``code``; when it expires: TOKEN_TTL from now, or
    sooner when a grant it rests on expires sooner."""
    now = _now(now)
    expires = now + TOKEN_TTL
    for grant, person in list_grants(lib):
        if person in code.people and grant.grantee == f"app:{code.app_id}" and grant.expires_at:
            expires = min(expires, grant.expires_at)
    with lib.session() as s:
        s.add(
            AppToken(
                token_hash=digest(token),
                app_id=code.app_id,
                code_hash=code.code_hash,
                scope=code.scope,
                people=json.dumps(list(code.people)),
                issued_at=now,
                expires_at=expires,
                revoked_at=None,
            )
        )
        audit.append(lib, s, "app-token", {"app": code.app_id, "people": list(code.people)})
    return expires


def check_token(lib: Library, token: str, now: datetime | None = None) -> TokenGrant:
    """What a bearer token allows, or ``AppError`` with why it is no good."""
    now = _now(now)
    with lib.session() as s:
        row = s.get(AppToken, digest(token))
        app = s.get(AppRecord, row.app_id) if row is not None else None
    if row is None or app is None:
        raise AppError("unknown access token")
    if row.revoked_at is not None:
        raise AppError("the access token was revoked")
    if app.revoked_at is not None:
        raise AppError("the app was revoked")
    if row.expires_at <= now:
        raise AppError("the access token expired")
    people = tuple(json.loads(row.people))
    scopes = tuple(row.scope.split())
    granted = {
        person
        for grant, person in list_grants(lib)
        if grant.grantee == f"app:{app.id}" and grant.in_force(now)
    }
    if not set(people) <= granted:
        raise AppError("consent for this app was withdrawn")
    return TokenGrant(app.id, scopes, people, row.expires_at)


def app_tokens(lib: Library, app_id: str) -> list[TokenGrant]:
    """The app's tokens in force (for the Apps page)."""
    now = _now()
    with lib.session() as s:
        rows = s.scalars(
            select(AppToken).where(
                AppToken.app_id == app_id,
                AppToken.revoked_at.is_(None),
                AppToken.expires_at > now,
            )
        ).all()
    return [
        TokenGrant(r.app_id, tuple(r.scope.split()), tuple(json.loads(r.people)), r.expires_at)
        for r in rows
    ]
