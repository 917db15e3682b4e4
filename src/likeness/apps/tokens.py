"""What an app's code and token are worth: single-use codes, short-lived tokens, and the
grants a token rests on.

- a token rests on the grants its approval signed, and is good only while the app, the
  token and each of those grants are in force (``check_token``): revoking the app or any of
  those grants stops it at once, even where another approval gave the app another grant for
  the same person (that grant backs that approval's tokens, not this one's);
- codes and tokens are stored as SHA-256 hashes only; a code is single use, claimed
  atomically (``take_code``: of parallel exchanges of one code, one gets a token), and a
  code presented twice revokes every token exchanged for it, including one being issued at
  that moment (RFC 6749, section 4.1.2).

A token check reads the token, its app and the few grants it rests on: never every grant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from likeness import clock
from likeness.apps.registry import AppError, digest, get_app, revoke_tokens
from likeness.apps.requester import Requester
from likeness.apps.tables import App as AppRecord
from likeness.apps.tables import AppCode, AppToken
from likeness.consent import audit
from likeness.consent.grants import GrantNotFoundError, get_grant
from likeness.store import Library

CODE_TTL = timedelta(minutes=1)
TOKEN_TTL = timedelta(hours=1)


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
    def requester(self) -> Requester:
        return Requester.app(self.app_id)


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
                expires_at=clock.now(now) + CODE_TTL,
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
    now = clock.now(now)
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
                revoke_tokens(s, AppToken.code_hash == code_hash, now)
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
    now = clock.now(now)
    expires = now + TOKEN_TTL
    for grant_id in code.grants:  # a token outlives none of the grants it rests on
        try:
            grant = get_grant(lib, grant_id)
        except GrantNotFoundError:
            continue  # the token check refuses it
        if grant.expires_at:
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
    now = clock.now(now)
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
    _require_grants(lib, grant.requester, grant.grants, now)  # the app was checked above
    return grant


def check_grants_in_force(
    lib: Library, app_id: str, grant_ids: tuple[str, ...], now: datetime | None = None
) -> None:
    """``AppError`` unless the app is in force and so is each of ``grant_ids`` (its grants:
    a token, or an app's job, rests on them)."""
    now = clock.now(now)
    app = get_app(lib, app_id)
    if app.revoked_at is not None:
        raise AppError("the app was revoked")
    _require_grants(lib, app.grantee, grant_ids, now)


def _require_grants(
    lib: Library, grantee: Requester, grant_ids: tuple[str, ...], now: datetime
) -> None:
    """``AppError`` unless each of ``grant_ids`` is a grant to ``grantee`` in force."""
    if not grant_ids:
        raise AppError("this token rests on no consent grant: ask for a new one")
    for grant_id in grant_ids:  # the few a token rests on, not every grant
        try:
            grant = get_grant(lib, grant_id)
        except GrantNotFoundError:
            grant = None
        if grant is None or grant.grantee != grantee or not grant.in_force(now):
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
    now = clock.now()
    with lib.session() as s:
        rows = s.scalars(
            select(AppToken).where(
                AppToken.app_id == app_id,
                AppToken.revoked_at.is_(None),
                AppToken.expires_at > now,
            )
        ).all()
    return [_token_grant(r) for r in rows]
