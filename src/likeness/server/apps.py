"""Third-party apps: registered by the owner, approved for some people and scopes, holding
short-lived access tokens.

An app is an OAuth 2 public client (authorization code with PKCE; the protocol itself is
Authlib's, in ``server.oauth``). What is decided here is what a token is worth:

- the owner registers an app (a name and one exact redirect URI: https, or http on
  loopback for apps on this machine);
- approving an app's request signs a consent grant per person, to ``app:<id>``, for the
  scopes asked (``approve``): the gate (``consent.policy``) then takes the app's requests
  as ``requester = app:<id>``, as it takes the owner's;
- a token rests on the grants its approval signed, and is good only while the app, the
  token and each of those grants are in force (``check_token``): revoking the app or any of
  those grants stops it at once, even where another approval gave the app another grant for
  the same person (that grant backs that approval's tokens, not this one's);
- codes and tokens are stored as SHA-256 hashes only; a code is single use, claimed
  atomically (``take_code``: of parallel exchanges of one code, one gets a token), and a
  code presented twice revokes every token exchanged for it, including one being issued at
  that moment (RFC 6749, section 4.1.2).

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
from likeness.errors import InvalidError, NotFoundError
from likeness.people.records import person_records
from likeness.server.security import is_host
from likeness.store import Library
from likeness.store.models import App as AppRecord
from likeness.store.models import AppCode, AppToken

#: What an app may ask for: generations. Training and exporting adapters stay the owner's.
APP_SCOPES = (Scope.GENERATE_STYLIZED.value, Scope.GENERATE_PHOTOREAL.value)
CODE_TTL = timedelta(minutes=1)
TOKEN_TTL = timedelta(hours=1)
#: How long an approval's grants may last (days), and what the approval page offers.
MAX_APPROVAL_DAYS = 90
APPROVAL_DAYS = (1, 7, 30, 90)


class AppError(InvalidError):
    """An app that cannot be registered or approved, or a token that is no good."""


class AppNotFoundError(NotFoundError, AppError):
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
    """What a valid token lets its app do: these scopes, for these people, under these
    consent grants (the gate takes no other grant for the app's requests on this token)."""

    app_id: str
    scopes: tuple[str, ...]
    people: tuple[int, ...]
    expires_at: datetime
    grants: tuple[str, ...] = ()

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
    """An app's redirect URI: absolute, no fragment, no user info, a host that is a DNS name
    or an IP address and a numeric port, https, or http on a loopback address. Nothing else
    is let through: the URI's origin goes into the approval page's security policy, and a
    browser must read its host as this check does."""
    if any(c.isspace() or c in ";,'\"\\<>`^{}|" for c in uri) or not uri.isprintable():
        raise AppError(f"{uri!r}: a redirect URI has no spaces, quotes, backslashes or ;,")
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.fragment or not parts.hostname or parts.scheme not in ("https", "http"):
        raise AppError(f"{uri!r}: a redirect URI is an absolute http(s) URL without a fragment")
    if "@" in parts.netloc or port == -1:
        raise AppError(f"{uri!r}: a redirect URI has a host and a port, no user name")
    host = parts.hostname
    if not is_host(host):
        raise AppError(f"{uri!r}: {host!r} is not a host name or an IP address")
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and not loopback:
        raise AppError(f"{uri!r}: plain http is allowed only on loopback; use https")
    return uri


def redirect_origin(uri: str) -> str:
    """The origin of a (checked) redirect URI, rebuilt from its parts: what CORS compares
    and the approval page's ``form-action`` names."""
    parts = urlsplit(uri)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port not in (None, default) else ""
    return f"{parts.scheme}://{host}{port}"


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
        _revoke_tokens(s, AppToken.app_id == app_id, now)
        audit.append(lib, s, "app-revoked", {"app": app_id})
        return _app(record)


def _revoke_tokens(s, which, now: datetime) -> None:
    """Revoke the tokens ``which`` selects that are not revoked yet (in session ``s``)."""
    s.execute(update(AppToken).where(which, AppToken.revoked_at.is_(None)).values(revoked_at=now))


def app_scopes(scope: str) -> list[str]:
    """The scopes of a space-separated OAuth ``scope``, all of them ones an app may have."""
    scopes = list(dict.fromkeys(scope.split()))
    unknown = [x for x in scopes if x not in APP_SCOPES]
    if not scopes or unknown:
        raise AppError(f"an app may ask for {', '.join(APP_SCOPES)}; not {unknown or scope!r}")
    return scopes


def check_approval(
    lib: Library,
    app_id: str,
    people: list[int],
    scopes: list[str],
    days: int,
    enrolment_id: str | None = None,
) -> list[Scope]:
    """Everything an approval needs, checked before anything is signed (``AppError`` with
    why): the scopes as ``Scope``s."""
    app = get_app(lib, app_id)
    if app.revoked_at is not None:
        raise AppError(f"app {app_id} is revoked")
    if not people:
        raise AppError("choose at least one person for the app")
    if not 1 <= days <= MAX_APPROVAL_DAYS:
        raise AppError(f"an app's grant lasts 1 to {MAX_APPROVAL_DAYS} days")
    if enrolment_id and len(people) != 1:
        raise AppError("an enrolment verifies one person: choose only that person")
    with lib.session() as s:
        found = list(person_records(s, people).values())
    missing = sorted(set(people) - {row.id for row in found})
    if missing:
        raise AppError(f"no person with id {missing[0]}")
    minors = sorted(row.id for row in found if row.is_minor)
    if minors:
        raise AppError(f"person {minors[0]} is marked as a minor: no app may ask for them")
    return [Scope(s) for s in app_scopes(" ".join(scopes))]


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
    All or nothing: the request is checked whole first, and a grant that cannot be signed
    takes back those signed before it. Returns the grant ids."""
    chosen = check_approval(lib, app_id, people, scopes, days, enrolment_id)
    grantee = f"app:{app_id}"
    signed: list[str] = []
    try:
        for person in dict.fromkeys(people):
            grant = issue_grant(
                lib,
                person,
                chosen,
                Trust.VERIFIED if enrolment_id else Trust.ATTESTED,
                grantee=grantee,
                expires_in=timedelta(days=days),
                enrolment_id=enrolment_id or None,
                now=now,
            )
            signed.append(grant.id)
    except Exception:
        withdraw(lib, signed, "the approval failed before it was complete")
        raise
    return signed


def withdraw(lib: Library, grant_ids: list[str], reason: str) -> None:
    """Revoke grants an approval signed when the approval did not go through (no token
    will rest on them)."""
    for grant_id in grant_ids:
        revoke_grant(lib, grant_id, reason)


def save_code(
    lib: Library,
    code: str,
    app_id: str,
    redirect_uri: str,
    scope: str,
    people: list[int],
    code_challenge: str,
    code_challenge_method: str,
    grants: list[str],
    now: datetime | None = None,
) -> None:
    """Keep a new code (its hash): ``redirect_uri`` is the one the request named, or ""
    when it named none (the token request then need not name one either)."""
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
                grants=json.dumps(grants),
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
    grants: tuple[str, ...] = ()

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def take_code(lib: Library, code: str, app_id: str, now: datetime | None = None) -> Code | None:
    """Claim the unexpired, unused code of this app: only one caller ever gets it (None
    otherwise), however many present it at once. A code presented again, after it was
    claimed, revokes every token exchanged for it: someone else holds it."""
    now = _now(now)
    code_hash = digest(code)
    with lib.session() as s:
        claimed = s.execute(
            update(AppCode)
            .where(
                AppCode.code_hash == code_hash,
                AppCode.app_id == app_id,
                AppCode.used_at.is_(None),
                AppCode.expires_at >= now,
            )
            .values(used_at=now)
        ).rowcount
        row = s.get(AppCode, code_hash)
        if row is None or row.app_id != app_id:
            return None
        if not claimed:
            if row.used_at is not None:
                row.replayed_at = now
                _revoke_tokens(s, AppToken.code_hash == code_hash, now)
                audit.append(lib, s, "app-code-replayed", {"app": app_id})
            return None
        return Code(
            row.code_hash,
            row.app_id,
            row.redirect_uri,
            row.scope,
            tuple(json.loads(row.people)),
            row.code_challenge,
            row.code_challenge_method,
            tuple(json.loads(row.grants or "[]")),
        )


def save_token(lib: Library, token: str, code: Code, now: datetime | None = None) -> datetime:
    """Store an access token issued on ``code``; when it expires: TOKEN_TTL from now, or
    sooner when a grant it rests on expires sooner. A token whose code was replayed while it
    was being issued is stored revoked (the replay's revocation may have run just before)."""
    now = _now(now)
    expires = now + TOKEN_TTL
    for grant, _person in list_grants(lib):
        if grant.id in code.grants and grant.expires_at:
            expires = min(expires, grant.expires_at)
    token_hash = digest(token)
    with lib.session() as s:
        # The insert comes first: it takes the catalog's write lock, so the replay check
        # below reads the latest state and no replay can land between them.
        s.add(
            AppToken(
                token_hash=token_hash,
                app_id=code.app_id,
                code_hash=code.code_hash,
                scope=code.scope,
                people=json.dumps(list(code.people)),
                grants=json.dumps(list(code.grants)),
                issued_at=now,
                expires_at=expires,
                revoked_at=None,
            )
        )
        s.flush()
        replayed = s.scalar(select(AppCode.replayed_at).where(AppCode.code_hash == code.code_hash))
        if replayed is not None:
            s.execute(
                update(AppToken).where(AppToken.token_hash == token_hash).values(revoked_at=now)
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
    grant = _token_grant(row)
    check_grants_in_force(lib, grant.app_id, grant.grants, now)
    return grant


def check_grants_in_force(
    lib: Library, app_id: str, grant_ids: tuple[str, ...], now: datetime | None = None
) -> None:
    """``AppError`` unless the app is in force and so is each of ``grant_ids`` (its grants:
    a token, or an app's job, rests on them)."""
    now = _now(now)
    app = get_app(lib, app_id)
    if app.revoked_at is not None:
        raise AppError("the app was revoked")
    if not grant_ids:
        raise AppError("this token rests on no consent grant: ask for a new one")
    in_force = {g.id for g, _ in list_grants(lib) if g.grantee == app.grantee and g.in_force(now)}
    if not set(grant_ids) <= in_force:
        raise AppError("consent for this app was withdrawn")


def _token_grant(row: AppToken) -> TokenGrant:
    return TokenGrant(
        row.app_id,
        tuple(row.scope.split()),
        tuple(json.loads(row.people)),
        row.expires_at,
        tuple(json.loads(row.grants or "[]")),
    )


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
    return [_token_grant(r) for r in rows]
