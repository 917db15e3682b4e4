"""Consent routes: grants (list, issue, revoke) and the audit log with its verification.

Thin calls into ``likeness.consent`` as the ``likeness consent`` and ``likeness audit``
commands are. Revoking takes effect at once: the gate denies later requests, and the person's
adapter key is destroyed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from likeness import clock
from likeness.apps.requester import Requester
from likeness.consent import audit, grants
from likeness.server.deps import MAX_ID, BodyId, library, require_csrf, require_session
from likeness.store import Library

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}}
GrantId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]

router = APIRouter(prefix="/api/consent", tags=["consent"], responses={401: {}})


class GrantOut(BaseModel):
    id: str
    person: int | None
    subject_uid: str
    grantee: str
    scopes: list[str]
    trust: str
    issued_at: str
    expires_at: str | None
    revoked_at: str | None
    signature_valid: bool
    evidence: list[str]
    in_force: bool


class GrantIn(BaseModel):
    """A grant to sign: ``verified`` with a passed live enrolment's id, or ``attested`` (a
    signed statement without a live check; it drives only the built-in tiny models)."""

    person: BodyId
    scopes: list[grants.Scope] = Field(min_length=1)
    trust: grants.Trust
    enrolment: str | None = Field(default=None, pattern="^[0-9a-f]{32}$")
    grantee: str = Field(default=grants.OWNER, pattern=r"^(owner|app:[A-Za-z0-9_-]{1,64})$")
    expires_days: int | None = Field(default=None, ge=1, le=36500)


class Revoke(BaseModel):
    reason: str = Field(default="", max_length=500)


class AuditOut(BaseModel):
    ok: bool
    entries: int
    problem: str | None
    first_bad_seq: int | None
    recent: list[dict]


def grant_out(grant: grants.ConsentGrant, person: int | None) -> GrantOut:

    return GrantOut(**grant.as_json(person), in_force=grant.in_force(clock.now()))


@router.get("/grants", dependencies=[Depends(require_session)], responses=ERRORS)
def list_grants(
    person: int | None = Query(None, ge=1, le=MAX_ID), lib: Library = Depends(library)
) -> list[GrantOut]:
    """Every grant, or one person's, oldest first, with whether each is in force now."""
    return [grant_out(g, p) for g, p in grants.list_grants(lib, person)]


@router.post("/grants", dependencies=[Depends(require_csrf)], responses=ERRORS, status_code=201)
def issue(body: GrantIn, lib: Library = Depends(library)) -> GrantOut:
    if body.trust == grants.Trust.VERIFIED and body.enrolment is None:
        raise grants.GrantError("a verified grant needs a passed live enrolment's id")
    grant = grants.issue_grant(
        lib,
        body.person,
        body.scopes,
        body.trust,
        grantee=body.grantee,
        expires_in=timedelta(days=body.expires_days) if body.expires_days else None,
        enrolment_id=body.enrolment,
    )
    return grant_out(grant, body.person)


@router.post("/grants/{grant_id}/revoke", dependencies=[Depends(require_csrf)], responses=ERRORS)
def revoke(
    grant_id: GrantId, body: Revoke, request: Request, lib: Library = Depends(library)
) -> dict[str, bool]:
    """Revoke at once (``revoked`` is false when it already was); an app's jobs that rest
    on the grant are cancelled."""
    return {"revoked": revoke_and_cancel(request, lib, grant_id, body.reason, grants.OWNER)}


def revoke_and_cancel(request: Request, lib: Library, grant_id: str, reason: str, by: str) -> bool:
    """Revoke a grant (``grants.revoke_grant``, as ``by``) and cancel the app's jobs that
    rest on it: what the owner's and a person's Revoke both do."""
    revoked = grants.revoke_grant(lib, grant_id, reason, by=by)
    grant = grants.get_grant(lib, grant_id)
    if Requester(grant.grantee).is_app:
        request.app.state.jobs.cancel_for(
            grant.grantee, "consent for this app was withdrawn", grant=grant_id
        )
    return revoked


@router.get("/audit", dependencies=[Depends(require_session)])
def audit_log(limit: int = Query(50, ge=1, le=1000), lib: Library = Depends(library)) -> AuditOut:
    """The audit log's verification (the hash chain and its signed head) and its latest
    entries."""
    report = audit.verify_audit(lib)
    return AuditOut(
        ok=report.ok,
        entries=report.entries,
        problem=report.problem,
        first_bad_seq=report.first_bad_seq,
        recent=audit.list_audit(lib, limit),
    )
