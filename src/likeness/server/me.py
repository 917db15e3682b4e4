"""People's own side of the server: invitations, passkeys, and a person's page.

The owner invites a person (``POST /api/people/{id}/invitations``: a one-time link). The
link's page (``/invite/<token>``) says what it is for and spends the link only when its
Start button is pressed (a chat app that fetches the link for a preview spends nothing):
the holder gets a 30-minute *invitee* session in which they may do two things only, pass a
live enrolment against that person group (the same WebSocket the owner's page uses) and
then register a passkey, which makes their account and signs them in as that person.
Afterwards they sign in at ``/me/sign-in`` with the passkey alone.

A person's session reaches their own routes (``/me``, ``/api/me/...``) and nothing of the
owner's (``deps.require_session`` refuses it): they see and revoke the grants about them
and sign new ones after a live enrolment; the owner can no longer sign one for them
(``consent.grants.issue_grant``). Passkeys need a secure origin: HTTPS, or loopback while
trying it on one machine; on plain HTTP elsewhere every passkey route refuses.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from likeness import workflows
from likeness.consent import (
    accounts,
    audit,
    erasure,
    grants,
    guardians,
    invitations,
    requests,
)
from likeness.consent.enrolment import SESSION_TTL, start_enrolment
from likeness.consent.tables import Enrolment
from likeness.errors import RefusedError
from likeness.people.records import get_person, person_id_of
from likeness.server import web
from likeness.server.consent import GrantId, GrantOut, Revoke, grant_out, revoke_and_cancel
from likeness.server.deps import (
    PathId,
    any_session,
    library,
    require_csrf,
    require_invitee,
    require_person,
    require_person_csrf,
    require_session,
    set_session_cookie,
)
from likeness.server.enrolment import LiveSession
from likeness.server.people import EraseIn, ErasureOut
from likeness.server.security import DEFAULT_NEXT, safe_next
from likeness.server.sessions import (
    COOKIE_NAME,
    INVITEE_PREFIX,
    INVITEE_TTL_S,
    MAX_DRAWN,
    PERSON_PREFIX,
    SESSION_TTL_S,
    SignedIn,
)
from likeness.store import Library

ERRORS: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}, 409: {}}
InvitationId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
#: Invitation tokens are 43 URL-safe characters (``secrets.token_urlsafe(32)``).
Token = Annotated[str, Path(pattern="^[A-Za-z0-9_-]{43}$")]

router = APIRouter(tags=["people's accounts"], responses={401: {}})
pages = APIRouter(include_in_schema=False)


# -- the owner: invitations ---------------------------------------------------------------


class InvitationIn(BaseModel):
    hours: int = Field(default=72, ge=1, le=24 * 30)


class InvitationOut(BaseModel):
    id: str
    person: int | None
    created_at: str
    expires_at: str
    opened_at: str | None
    revoked_at: str | None
    status: str


class NewInvitation(InvitationOut):
    #: The link to give the person (shown once: only its hash is kept) ...
    url: str
    #: ... and as a QR code for a phone's camera (an SVG ``data:`` URI).
    qr_svg: str


@router.post(
    "/api/people/{person_id}/invitations",
    dependencies=[Depends(require_csrf)],
    responses=ERRORS,
    status_code=201,
)
def invite(
    person_id: PathId, request: Request, body: InvitationIn, lib: Library = Depends(library)
) -> NewInvitation:
    """Invite a person to consent for themselves: a one-time link, valid for ``hours``."""
    import segno

    info, token = invitations.invite_person(lib, person_id, timedelta(hours=body.hours))
    url = f"{_origin(request)}/invite/{token}"
    qr = segno.make(url, error="m").svg_data_uri(scale=4, border=2)
    return NewInvitation(**info.as_json(), url=url, qr_svg=qr)


@router.get(
    "/api/people/{person_id}/invitations",
    dependencies=[Depends(require_session)],
    responses=ERRORS,
)
def list_invitations(person_id: PathId, lib: Library = Depends(library)) -> list[InvitationOut]:
    return [InvitationOut(**i.as_json()) for i in invitations.list_invitations(lib, person_id)]


@router.post(
    "/api/invitations/{invitation_id}/revoke",
    dependencies=[Depends(require_csrf)],
    responses=ERRORS,
)
def revoke_invitation(
    invitation_id: InvitationId, lib: Library = Depends(library)
) -> dict[str, bool]:
    return {"revoked": invitations.revoke_invitation(lib, invitation_id)}


# -- the invited person: the link, enrolment, a passkey -------------------------------------


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def relying_party(request: Request) -> tuple[str, str]:
    """(rp_id, origin) of this request, as WebAuthn checks them. Refused where a browser
    would not offer passkeys (nor a camera): on plain HTTP off loopback, and at an IP
    address (a WebAuthn relying party is a domain name: ``localhost`` on this machine, the
    server's name on the network)."""
    import ipaddress

    host = request.url.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        port = f":{request.url.port}" if request.url.port else ""
        raise HTTPException(
            400,
            "passkeys work at a name, not at an address: open this page at "
            f"{request.url.scheme}://localhost{port} on this machine, or at the server's "
            "name on the network (such as photos.home.arpa)",
        )
    if request.url.scheme != "https" and host != "localhost":
        raise HTTPException(
            400,
            "people sign in over HTTPS only: ask the owner to serve with TLS "
            "(passkeys and the camera need a secure connection)",
        )
    return host, _origin(request)


def _credential_challenge(credential: dict[str, Any]) -> bytes:
    """The challenge a browser's credential answers (from its client data)."""
    from webauthn.helpers import base64url_to_bytes, parse_client_data_json
    from webauthn.helpers.exceptions import WebAuthnException

    try:
        data = base64url_to_bytes(credential["response"]["clientDataJSON"])
        return parse_client_data_json(data).challenge
    except (KeyError, TypeError, ValueError, WebAuthnException) as exc:
        raise HTTPException(400, "not a WebAuthn credential") from exc


@pages.get("/invite/{token}", response_class=HTMLResponse)
def invitation_page(request: Request, token: Token):
    """What the link is for, and a Start button (spending the link is the button's); a
    link that would not open says so at once."""
    invitations.check_invitation(request.app.state.library, token)
    return web.page(request, "invite.html", "You are invited", None, token=token)


@pages.post("/invite/{token}")
def open_invitation(request: Request, token: Token):
    """Spend the link: an invitee session for its person group, then the welcome page.
    Only from this server's own page: a form on another site posting someone's link would
    otherwise sign the visitor's browser in as that invitee (login CSRF)."""
    # Browsers say where a request comes from in Sec-Fetch-Site; the Origin of a form sent
    # from a no-referrer page (all of ours) is "null", so it only counts where the first
    # is missing (an old browser).
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if (site is not None and site not in ("same-origin", "none")) or (
        site is None and origin not in (None, "null", _origin(request))
    ):
        raise RefusedError("open the invitation link itself, not through another site")
    lib: Library = request.app.state.library
    opened = invitations.open_invitation(lib, token)
    session_token, _ = request.app.state.sessions.start(
        f"{INVITEE_PREFIX}{opened.person_uid}", opened.id, ttl_s=INVITEE_TTL_S
    )
    response = RedirectResponse("/me/welcome", status_code=303)
    set_session_cookie(request, response, session_token, INVITEE_TTL_S)
    return response


def _own_person_id(lib: Library, state: SignedIn) -> int:
    return _me(lib, state)[0]


def _me(lib: Library, state: SignedIn) -> tuple[int, str | None]:
    """The id and name of the person a person's (or an invitee's) session acts for."""
    with lib.session() as s:
        person_id = person_id_of(s, state.person_uid or "")
        if person_id is None:
            raise HTTPException(404, "your person group is no longer in this library")
        return person_id, get_person(s, person_id).name


def _by(state: SignedIn) -> str:
    """How the audit log names the person a session acts for (``audit.person_actor``)."""
    return audit.person_actor(state.person_uid or "")


@pages.get("/me/welcome", response_class=HTMLResponse)
def welcome_page(request: Request):
    """Live enrolment, then a passkey: the invitee's two steps."""
    state = any_session(request)
    if state is None or state.person_uid is None:
        return RedirectResponse("/me/sign-in", status_code=303)
    lib: Library = request.app.state.library
    person_id = _own_person_id(lib, state)
    return web.page(request, "me_welcome.html", "Consent for yourself", state, person=person_id)


@router.post("/api/me/enrolment/live", responses={400: {}, 403: {}, 404: {}}, status_code=201)
def start_own_enrolment(
    request: Request,
    state: SignedIn = Depends(require_invitee),
    lib: Library = Depends(library),
) -> LiveSession:
    """Draw a live enrolment session against your own person group (this browser session
    may draw ``sessions.MAX_DRAWN``; a passkey or a grant rests only on one it drew)."""
    person_id = _own_person_id(lib, state)
    sessions, cookie = request.app.state.sessions, request.cookies.get(COOKIE_NAME)
    if len(sessions.drawn(cookie)) >= MAX_DRAWN:
        raise HTTPException(429, f"{MAX_DRAWN} live checks in one session: sign in again")
    session = start_enrolment(lib, person_id, live=True)
    sessions.note_drawn(cookie, session.id)
    expires = session.created_at + SESSION_TTL
    return LiveSession(session=session.id, person=person_id, expires_at=expires.isoformat())


@router.post("/api/me/passkeys/options", responses=ERRORS)
def passkey_options(
    request: Request,
    state: SignedIn = Depends(require_invitee),
    lib: Library = Depends(library),
) -> dict[str, Any]:
    """Options for ``navigator.credentials.create`` (after a passed enrolment)."""
    rp_id, _ = relying_party(request)
    uid = state.person_uid or ""
    handle = accounts.user_handle(lib, uid)
    # Bound to this browser session: another invitee's answer cannot spend it.
    challenge = request.app.state.sessions.issue_challenge(f"register:{state.csrf_token}", handle)
    label = _me(lib, state)[1] or "me"
    options = accounts.registration_options(lib, uid, handle, label, rp_id, challenge)
    return json.loads(options)


class PersonSession(BaseModel):
    csrf_token: str
    person: int


@router.post("/api/me/passkeys", responses=ERRORS, status_code=201)
def register_passkey(
    request: Request,
    response: Response,
    credential: dict[str, Any] = Body(...),
    state: SignedIn = Depends(require_invitee),
    lib: Library = Depends(library),
) -> PersonSession:
    """Register the passkey ``navigator.credentials.create`` made, on a live check this
    browser session passed: for an invitee, their account, and they are signed in as
    themselves (the invitation's session ends); for a person signed in, another passkey."""
    rp_id, origin = relying_party(request)
    uid = state.person_uid or ""
    challenge = _credential_challenge(credential)
    sessions = request.app.state.sessions
    handle = sessions.spend_challenge(challenge, f"register:{state.csrf_token}")
    if handle is None:
        raise HTTPException(400, "this passkey answers no challenge of yours: try again")
    # Only a live check this very browser session ran (not another invitee's, not one the
    # owner recorded) makes the account.
    enrolment = accounts.passed_enrolment_of_sessions(
        lib, sessions.drawn(request.cookies.get(COOKIE_NAME))
    )
    if enrolment is None:
        raise HTTPException(400, "pass the live enrolment first, then make your passkey")
    if state.is_person:
        # Signed in already: another passkey (a new phone) on the live check just passed.
        accounts.add_passkey(
            lib,
            person_uid=uid,
            enrolment_id=enrolment,
            credential=credential,
            challenge=challenge,
            rp_id=rp_id,
            origin=origin,
        )
        return PersonSession(csrf_token=state.csrf_token, person=_own_person_id(lib, state))
    if state.invitation is None:
        raise HTTPException(409, "you have a passkey already")
    accounts.register_passkey(
        lib,
        person_uid=uid,
        invitation_id=state.invitation,
        enrolment_id=enrolment,
        handle=handle,
        credential=credential,
        challenge=challenge,
        rp_id=rp_id,
        origin=origin,
    )
    return _sign_in_as(request, response, uid, lib, carry_drawn=True)


def _sign_in_as(
    request: Request, response: Response, uid: str, lib: Library, carry_drawn: bool = False
) -> PersonSession:
    """A new session for the person (the old one ends: no session fixation); with
    ``carry_drawn``, the live checks the old one drew go with it."""
    sessions = request.app.state.sessions
    old = request.cookies.get(COOKIE_NAME)
    token, state = sessions.start(f"{PERSON_PREFIX}{uid}")
    if carry_drawn:
        sessions.carry_drawn(old, token)
    sessions.end(old)
    set_session_cookie(request, response, token, SESSION_TTL_S)
    return PersonSession(csrf_token=state.csrf_token, person=_own_person_id(lib, state))


@pages.get("/me/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None):
    """After signing in, the page goes to ``next`` if it is a path of this site (an app's
    authorization link, ``security.safe_next``), else to the person's page."""
    target = safe_next(next)
    target = "/me" if target == DEFAULT_NEXT else target  # (the owner's default page)
    return web.page(request, "me_sign_in.html", "Sign in with your passkey", None, next=target)


@router.post("/api/me/sign-in/options", responses={400: {}, 429: {}})
def sign_in_options(request: Request) -> dict[str, Any]:
    """Options for ``navigator.credentials.get``: no one is named; the authenticator
    offers its passkeys for this site."""
    rp_id, _ = relying_party(request)
    challenge = request.app.state.sessions.sign_in_challenge()
    return json.loads(accounts.authentication_options(rp_id, challenge))


@router.post("/api/me/sign-in", responses={400: {}, 403: {}})
async def sign_in(
    request: Request, response: Response, credential: dict[str, Any] = Body(...)
) -> PersonSession:
    """Sign in with a passkey: a person's session (its CSRF token)."""
    rp_id, origin = relying_party(request)
    challenge = _credential_challenge(credential)
    sessions = request.app.state.sessions
    if not sessions.valid_sign_in_challenge(challenge):
        raise HTTPException(400, "this passkey answers no sign-in challenge: try again")
    lib: Library = request.app.state.library
    uid = await run_in_threadpool(
        accounts.sign_in_with_passkey, lib, credential, challenge, rp_id, origin
    )
    if not sessions.used_sign_in(challenge):
        raise HTTPException(400, "this passkey answers no sign-in challenge: try again")
    return _sign_in_as(request, response, uid, lib)


@router.post("/api/me/sign-out", status_code=204)
def sign_out(
    request: Request, response: Response, _state: SignedIn = Depends(require_invitee)
) -> None:
    request.app.state.sessions.end(request.cookies.get(COOKIE_NAME))
    response.delete_cookie(COOKIE_NAME, path="/")


# -- a person's own page: their grants ------------------------------------------------------


class ErasureState(BaseModel):
    erased: bool
    templates: list[str]
    faces_withheld: int


class Me(BaseModel):
    person: int
    name: str | None
    grants: list[GrantOut]
    #: Whether you erased your biometric data, what is kept to refuse, and what it withheld.
    erasure: ErasureState


def _my_grants(lib: Library, person_id: int) -> list[GrantOut]:
    return [grant_out(g, p) for g, p in grants.list_grants(lib, person_id)]


@router.get("/api/me")
def me(state: SignedIn = Depends(require_person), lib: Library = Depends(library)) -> Me:
    """You, as this library knows you, and every grant about you."""
    person_id, name = _me(lib, state)
    return Me(
        person=person_id,
        name=name,
        grants=_my_grants(lib, person_id),
        erasure=ErasureState(**erasure.do_not_generate_state(lib, person_id).as_json()),
    )


@pages.get("/me", response_class=HTMLResponse)
def my_page(request: Request):
    from likeness.apps.registry import list_apps

    state = any_session(request)
    if state is None or state.person_uid is None:
        return RedirectResponse("/me/sign-in", status_code=303)
    if not state.is_person:
        return RedirectResponse("/me/welcome", status_code=303)
    lib: Library = request.app.state.library
    person_id, name = _me(lib, state)
    guardian = guardians.guardian_of(lib, person_id)
    with lib.session() as s:
        minor = get_person(s, person_id).is_minor
        guardian_name = get_person(s, guardian).name if guardian is not None else None
    return web.page(
        request,
        "me.html",
        "My likeness",
        state,
        person_name=name,
        person=person_id,
        grants=_my_grants(lib, person_id),
        scopes=[str(x) for x in grants.Scope],
        activity=workflows.person_activity(lib, person_id, limit=100),
        adapters=_my_adapters(lib, person_id),
        passkeys=accounts.list_passkeys(lib, state.person_uid or ""),
        erasure=erasure.do_not_generate_state(lib, person_id),
        grant_requests=[
            _request_out(lib, r) for r in requests.pending_grant_requests(lib, person_id)
        ],
        minor=minor,
        guardian_name=guardian_name,
        app_names={app.id: app.name for app in list_apps(lib)},
        to_answer=guardians.requests_to_guardian(lib, person_id),
        waiting=guardians.requests_of_minor(lib, person_id),
    )


class ActivityOut(BaseModel):
    seq: int
    at: str
    kind: str
    words: str
    actor: str
    image: str | None
    provenance: dict[str, str] | None


@router.get("/api/me/activity")
def my_activity(
    limit: int = Query(200, ge=1, le=1000),
    state: SignedIn = Depends(require_person),
    lib: Library = Depends(library),
) -> list[ActivityOut]:
    """Everything the audit log holds about you, newest first, in words: who asked for
    what, and what the gate and the safety gate answered (``consent.activity``)."""
    items = workflows.person_activity(lib, _own_person_id(lib, state), limit)
    return [ActivityOut(**item.as_json()) for item in items]


class MyAdapter(BaseModel):
    id: str
    base_model: str
    status: str
    steps_done: int
    created_at: str
    finished_at: str | None


def _my_adapters(lib: Library, person_id: int) -> list[MyAdapter]:
    from likeness.adapters.manage import list_adapters

    return [
        MyAdapter(**{k: v for k, v in a.as_json().items() if k in MyAdapter.model_fields})
        for a in list_adapters(lib, person_id)
    ]


@router.get("/api/me/adapters")
def my_adapters(
    state: SignedIn = Depends(require_person), lib: Library = Depends(library)
) -> list[MyAdapter]:
    """The adapters trained on your photos (newest first)."""
    return _my_adapters(lib, _own_person_id(lib, state))


@router.delete("/api/me/adapters/{adapter_id}", responses=ERRORS, status_code=204)
def delete_my_adapter(
    adapter_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> None:
    """Delete an adapter trained on your photos (its files and its record); anyone
    else's is not found."""
    from likeness.adapters.manage import remove_adapter

    remove_adapter(lib, adapter_id, by=_by(state))


@router.get(
    "/api/me/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
async def export_my_data(
    state: SignedIn = Depends(require_person), lib: Library = Depends(library)
) -> Response:
    """A zip of what the library holds about you: your face crops, the grants about you as
    signed, your activity (``consent.person_data``: what is left out, and why)."""
    import io

    from likeness.consent.person_data import export_person_data

    person_id = _own_person_id(lib, state)
    out = io.BytesIO()
    await run_in_threadpool(export_person_data, lib, person_id, out, _by(state))
    return Response(
        out.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="my-likeness-data.zip"'},
    )


class MyPasskey(BaseModel):
    id: str
    created_at: str
    last_used_at: str | None


@router.get("/api/me/passkeys")
def my_passkeys(
    state: SignedIn = Depends(require_person), lib: Library = Depends(library)
) -> list[MyPasskey]:
    return [MyPasskey(**k.as_json()) for k in accounts.list_passkeys(lib, state.person_uid or "")]


@router.delete("/api/me/passkeys/{passkey_id}", responses=ERRORS, status_code=204)
def remove_my_passkey(
    passkey_id: Annotated[str, Path(pattern="^[A-Za-z0-9_-]{1,700}$")],
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> None:
    """Remove one of your passkeys (a lost phone); never your last."""
    accounts.remove_passkey(lib, state.person_uid or "", passkey_id)


class MyGrantIn(BaseModel):
    """A grant you sign: it rests on a live enrolment you passed today."""

    scopes: list[grants.Scope] = Field(min_length=1)
    enrolment: str = Field(pattern="^[0-9a-f]{32}$")
    expires_days: int | None = Field(default=None, ge=1, le=36500)


def _check_drawn_here(request: Request, lib: Library, enrolment_id: str) -> None:
    """400 unless the enrolment is of a live check this browser session drew (on the
    person's page, or on the welcome page just before)."""
    drawn = request.app.state.sessions.drawn(request.cookies.get(COOKIE_NAME))
    with lib.session() as s:
        enrolment = s.get(Enrolment, enrolment_id)
        if enrolment is None or enrolment.session_id not in drawn:
            raise HTTPException(400, "pass a live check on this page first, then sign")


@router.post(
    "/api/me/grants",
    responses={**ERRORS, 202: {"description": "a minor's: waiting for their guardian"}},
    status_code=201,
)
def sign_grant(
    body: MyGrantIn,
    request: Request,
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> GrantOut:
    """Sign a grant to the library's owner, about yourself, on a live check this browser
    session ran (on your page, or on the welcome page just before). A minor's waits for
    their guardian's approval (202)."""
    _check_drawn_here(request, lib, body.enrolment)
    person_id = _own_person_id(lib, state)
    with lib.session() as s:
        minor = get_person(s, person_id).is_minor
    if minor:  # it waits for their guardian (consent.guardians)
        waiting = guardians.ask_guardian(
            lib, person_id, body.scopes, body.expires_days, body.enrolment
        )
        return JSONResponse({"waiting_for_guardian": waiting.as_json()}, status_code=202)
    grant = grants.issue_grant(
        lib,
        person_id,
        body.scopes,
        grants.Trust.VERIFIED,
        expires_in=timedelta(days=body.expires_days) if body.expires_days else None,
        enrolment_id=body.enrolment,
        by=_by(state),
    )
    return grant_out(grant, person_id)


@router.post("/api/me/grants/{grant_id}/revoke", responses=ERRORS)
def revoke_my_grant(
    grant_id: GrantId,
    body: Revoke,
    request: Request,
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> dict[str, bool]:
    """Revoke a grant about you, at once (an app's jobs that rest on it are cancelled).
    A grant about anyone else is not found."""
    return {"revoked": revoke_and_cancel(request, lib, grant_id, body.reason, _by(state))}


@router.post("/api/me/erase", responses=ERRORS)
def erase_my_biometric_data(
    body: EraseIn,
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> ErasureOut:
    """Erase your faces' records, live checks, adapters and key, withdraw every permission,
    and never be generated here (``consent.erasure``: what is deleted and what is kept)."""
    done = workflows.erase(lib, _own_person_id(lib, state), by=_by(state))
    return ErasureOut(**done.as_json())


@router.post("/api/me/erase/template", responses=ERRORS)
def erase_my_template(
    body: EraseIn,
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> dict[str, int]:
    """After an erasure: delete the salted template kept to recognise and refuse your face.
    You stay do-not-generate by name; nothing recognises your face any more."""
    deleted = erasure.erase_do_not_generate_template(lib, _own_person_id(lib, state), by=_by(state))
    return {"templates_deleted": deleted}


class GrantRequestOut(BaseModel):
    id: str
    #: Who would hold the permission: ``owner`` or ``app:<id>``; and in words.
    grantee: str
    grantee_name: str
    scopes: list[str]
    days: int | None
    created_at: str
    expires_at: str
    answer: str | None
    grant: str | None


def _request_out(lib: Library, info) -> GrantRequestOut:
    return GrantRequestOut(
        **{k: v for k, v in info.as_json().items() if k in GrantRequestOut.model_fields},
        grantee_name=_grantee_name(lib, info.grantee),
    )


def _grantee_name(lib: Library, grantee: str) -> str:
    from likeness.apps.registry import AppNotFoundError, get_app
    from likeness.apps.requester import Requester

    app_id = Requester(grantee).app_id
    if app_id is None:
        return "the library's owner"
    try:
        return f"the app {get_app(lib, app_id).name}"
    except AppNotFoundError:
        return f"the app {app_id[:8]}"


@router.get("/api/me/requests")
def my_requests(
    state: SignedIn = Depends(require_person), lib: Library = Depends(library)
) -> list[GrantRequestOut]:
    """Permissions asked of you, by the owner or (sent on by the owner) by apps, waiting
    for your answer."""
    return [
        _request_out(lib, r)
        for r in requests.pending_grant_requests(lib, _own_person_id(lib, state))
    ]


class RequestAnswer(BaseModel):
    approve: bool
    #: A live check you passed in this session: your permission is then verified (real
    #: models); without one it is stated by you (the built-in test models only).
    enrolment: str | None = Field(default=None, pattern="^[0-9a-f]{32}$")


@router.post("/api/me/requests/{request_id}", responses=ERRORS)
def answer_request(
    request_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
    body: RequestAnswer,
    request: Request,
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> GrantRequestOut:
    """Approve (signing your permission) or deny a request made of you; anyone else's
    request is not found."""
    from likeness.apps.requests import answer_check

    if body.approve and body.enrolment is not None:
        _check_drawn_here(request, lib, body.enrolment)
    info = requests.answer_grant_request(
        lib,
        request_id,
        _own_person_id(lib, state),
        body.approve,
        body.enrolment if body.approve else None,
        still_valid=answer_check(lib),
    )
    return _request_out(lib, info)


class GuardianRequestOut(BaseModel):
    id: str
    minor: int | None
    minor_name: str | None
    scopes: list[str]
    expires_days: int | None
    created_at: str
    answer: str | None
    grant: str | None


class GuardianRequests(BaseModel):
    #: Your wards' permissions waiting for your answer (you are their guardian).
    to_answer: list[GuardianRequestOut]
    #: Your own, waiting for your guardian (you are a minor).
    waiting: list[GuardianRequestOut]


@router.get("/api/me/guardian-requests")
def my_guardian_requests(
    state: SignedIn = Depends(require_person), lib: Library = Depends(library)
) -> GuardianRequests:
    """Permissions of minors waiting for a guardian: those you answer, and your own."""
    person_id = _own_person_id(lib, state)
    return GuardianRequests(
        to_answer=[
            GuardianRequestOut(**r.as_json())
            for r in guardians.requests_to_guardian(lib, person_id)
        ],
        waiting=[
            GuardianRequestOut(**r.as_json()) for r in guardians.requests_of_minor(lib, person_id)
        ],
    )


class GuardianAnswer(BaseModel):
    approve: bool


@router.post("/api/me/guardian-requests/{request_id}", responses=ERRORS)
def answer_guardian_request(
    request_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
    body: GuardianAnswer,
    state: SignedIn = Depends(require_person_csrf),
    lib: Library = Depends(library),
) -> GuardianRequestOut:
    """As a minor's guardian: approve (the minor's permission is signed) or deny it. A
    request of anyone who is not your ward is not found."""
    info = guardians.answer_guardian_request(
        lib, request_id, _own_person_id(lib, state), body.approve
    )
    return GuardianRequestOut(**info.as_json())
