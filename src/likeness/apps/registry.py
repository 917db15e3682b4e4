"""Third-party apps: registered by the owner, approved for some people and scopes.

An app is an OAuth 2 public client (authorization code with PKCE; the protocol itself is
Authlib's, in ``server.oauth``). What is decided here is who may ask for what:

- the owner registers an app (a name and one exact redirect URI: https, or http on
  loopback for apps on this machine);
- approving an app's request signs a consent grant per person, to ``app:<id>``, for the
  scopes asked (``approve``): the gate (``consent.policy``) then takes the app's requests
  as ``requester = app:<id>``, as it takes the owner's;
- what a code and a token are worth, and when they stop, is ``apps.tokens``.

An app never gets embeddings, adapters or source photos: its API (``server.oauth``) lists the
people it may ask for by id and name, and returns generated images (signed, watermarked).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit

from sqlalchemy import select, update

from likeness import clock
from likeness.apps.requester import Requester
from likeness.apps.tables import App as AppRecord
from likeness.apps.tables import AppToken
from likeness.consent import audit
from likeness.consent.grants import Scope, Trust, issue_grant, list_grants, revoke_grant
from likeness.errors import InvalidError, NotFoundError
from likeness.people.records import person_records
from likeness.store import Library

#: What an app may ask for: generations (images, and video clips on their own scope).
#: Training and exporting adapters stay the owner's.
APP_SCOPES = (
    Scope.GENERATE_STYLIZED.value,
    Scope.GENERATE_PHOTOREAL.value,
    Scope.GENERATE_VIDEO.value,
)
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
    def grantee(self) -> Requester:
        return Requester.app(self.id)

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "redirect_uri": self.redirect_uri,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


#: A DNS name: dot-separated labels of letters, digits and inner hyphens.
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def is_host(name: str) -> bool:
    """Whether ``name`` (lower case, no port, IPv6 without brackets) is a DNS name or an IP
    address: nothing a browser could read as another host, nothing a pattern could widen."""
    try:
        ip_address(name)
        return True
    except ValueError:
        return bool(_DNS_NAME.match(name))


def new_secret() -> str:
    """A code or token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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
        created_at=clock.now(now),
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
    """Revoke the app, its tokens and every grant to it, at once; the requests it had sent
    on to people lapse."""
    from likeness.consent.requests import lapse_grant_requests

    now = clock.now(now)
    app = get_app(lib, app_id)
    lapse_grant_requests(lib, grantee=app.grantee)
    for grant, _ in list_grants(lib):
        if grant.grantee == app.grantee and grant.revoked_at is None:
            revoke_grant(lib, grant.id, f"app {app.id} revoked", now)
    with lib.session() as s:
        record = s.get(AppRecord, app_id)
        if record.revoked_at is None:
            record.revoked_at = now
        revoke_tokens(s, AppToken.app_id == app_id, now)
        audit.append(lib, s, "app-revoked", {"app": app_id})
        return _app(record)


def revoke_tokens(s, which, now: datetime) -> None:  # also for ``apps.tokens``
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
    never = sorted(row.id for row in found if row.do_not_generate)
    if never:
        raise AppError(f"person {never[0]} asked never to be generated")
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
    grantee = Requester.app(app_id)
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
