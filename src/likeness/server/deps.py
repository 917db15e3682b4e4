"""What routes depend on: the signed-in session, its CSRF check, the library.

``require_session`` and ``require_csrf`` are the owner's: every route of the library's
management takes them, so a person's session (``sessions.SignedIn.who``) reaches none of
them by default. A person's own routes (``server.me``) take ``require_person`` (signed in
with a passkey) or ``require_invitee`` (an opened invitation, or a person), each with its
CSRF check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Response
from pydantic import Field

from likeness.server.sessions import COOKIE_NAME, CSRF_HEADER, SignedIn
from likeness.store import Library

#: Ids are the catalog's integers, 32-bit in PostgreSQL (``integer``) and 64-bit in SQLite:
#: a larger number cannot name anything (422, not a server error).
MAX_ID = 2**31 - 1
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]


def any_session(request: Request) -> SignedIn | None:
    """This request's session, whoever it acts for (None without one)."""
    return request.app.state.sessions.get(request.cookies.get(COOKIE_NAME))


def require_session(request: Request) -> SignedIn:
    """The owner's signed-in session (401 without a session, 403 for a person's)."""
    state = any_session(request)
    if state is None:
        raise HTTPException(401, "sign in first")
    if not state.is_owner:
        raise HTTPException(403, "only the library's owner can do this")
    return state


def _csrf(request: Request, state: SignedIn) -> SignedIn:
    if not state.csrf_ok(request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    return state


def require_csrf(request: Request, state: SignedIn = Depends(require_session)) -> SignedIn:
    """The owner's session, and this request carries its CSRF token (403 otherwise)."""
    return _csrf(request, state)


def require_invitee(request: Request) -> SignedIn:
    """A person's session or an opened invitation's, with its CSRF token."""
    state = any_session(request)
    if state is None or state.person_uid is None:
        raise HTTPException(401, "open your invitation link, or sign in with your passkey")
    return _csrf(request, state)


def require_person(request: Request) -> SignedIn:
    """A person signed in with their passkey (not the owner, not an invitee)."""
    state = any_session(request)
    if state is None or not state.is_person:
        raise HTTPException(401, "sign in with your passkey")
    return state


def require_person_csrf(request: Request, state: SignedIn = Depends(require_person)) -> SignedIn:
    return _csrf(request, state)


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when served over HTTPS."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        path="/",
    )


def library(request: Request) -> Library:
    return request.app.state.library
