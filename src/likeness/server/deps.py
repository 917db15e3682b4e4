"""What routes depend on: the signed-in session, its CSRF check, the library."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from pydantic import Field

from likeness.server.sessions import COOKIE_NAME, CSRF_HEADER, SignedIn
from likeness.store import Library

#: Ids are SQLite integers: a larger number cannot name anything (422, not a server error).
MAX_ID = 2**63 - 1
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]


def require_session(request: Request) -> SignedIn:
    """The signed-in session of this request (401 without one)."""
    state = request.app.state.sessions.get(request.cookies.get(COOKIE_NAME))
    if state is None:
        raise HTTPException(401, "sign in first")
    return state


def require_csrf(request: Request, state: SignedIn = Depends(require_session)) -> SignedIn:
    """A signed-in session whose CSRF token this request carries (403 otherwise)."""
    if not state.csrf_ok(request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    return state


def library(request: Request) -> Library:
    return request.app.state.library
