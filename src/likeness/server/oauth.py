"""Third-party apps over OAuth 2: the authorization-code flow with PKCE (Authlib's
``AuthorizationServer`` and ``AuthorizationCodeGrant`` with ``CodeChallenge``), the owner's
approval page, the owner's app routes, and the API an app calls with its token.

- ``GET /oauth/authorize``: the whole request is checked first (app, redirect URI, scope,
  an S256 challenge); a bad one goes back to the app's redirect URI with ``error`` and
  ``state`` where that URI is the app's (RFC 6749 section 4.1.2.1), else to a page saying
  why. Then the owner, signed in, sees what the app asks (scopes) and picks the people and
  how long; ``POST /oauth/authorize`` (the session's CSRF token in the form) checks it all
  again, signs a grant to ``app:<id>`` per person (``apps.approve``) and redirects to the app
  with a code, or with ``access_denied``; every redirect carries ``iss`` (RFC 9207). Nothing
  is signed for a request that fails, and grants signed for an approval that could not be
  completed are withdrawn.
- ``POST /oauth/token``: code + verifier for a bearer token (``tokens.save_token``).
- ``GET /.well-known/oauth-authorization-server``: the server's metadata (RFC 8414).
- ``/api/apps``: the owner registers, lists and revokes apps (session and CSRF).
- ``/api/app/v1/...``: the app's own API, with ``Authorization: Bearer``: the people it may
  ask for (id and name only), generations (through the gate as ``requester = app:<id>``,
  held to its token's people and grants, the safety check and provenance, as the owner's),
  its own jobs, their images, and cancelling them. An app never learns anything of people
  outside its token: its prompts are read among its people only, and its refusals name no
  one else.
- Browser apps: the token endpoint and the app API answer cross-origin requests from the
  origin of a registered app's redirect URI (CORS, no cookies), and no other.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, ClassVar
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import (
    InsecureTransportError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from likeness import clock
from likeness.apps import registry as apps
from likeness.apps import requests as app_requests
from likeness.apps import tokens
from likeness.server.deps import any_session, library, require_csrf, require_session
from likeness.server.jobs import INTERNAL_ERROR, OUTPUT_KINDS, JobQueue
from likeness.server.jobs_routes import (
    ERRORS,
    OUTPUT_TYPES,
    GenerateJob,
    JobId,
    JobOut,
    VideoJob,
    generated_image,
)
from likeness.server.security import content_security_policy
from likeness.store import Library

#: The longest ``state`` an app may send (it comes back in the redirect).
MAX_STATE_CHARS = 500


class _Client(ClientMixin):
    """A registered app as Authlib sees it: a public client with one redirect URI."""

    def __init__(self, app: apps.App):
        self.app = app

    def get_client_id(self) -> str:
        return self.app.id

    def get_default_redirect_uri(self) -> str:
        return self.app.redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return None  # Authlib answers invalid_scope
        return " ".join(s for s in scope.split() if s in apps.APP_SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.app.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public clients have none: PKCE stands in

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class _Request(OAuth2Request):
    """A Starlette request, its query and form already read (Authlib's requests are sync)."""

    def __init__(self, request: Request, form: dict[str, str]):
        super().__init__(request.method, str(request.url), headers=dict(request.headers))
        self._args = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class _S256Only(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]


class _Approval:
    """The owner's approval, carried from the page to the code: the people chosen and the
    grants signed for them; ``saved`` once a code rests on them."""

    def __init__(self, people: list[int], grants: list[str]):
        self.people = people
        self.grants = grants
        self.saved = False


class _CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def generate_authorization_code(self) -> str:
        return apps.new_secret()

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        approval: _Approval = request.user
        tokens.save_code(
            self.server.lib,
            code,
            request.client.get_client_id(),
            request.payload.redirect_uri or "",
            request.payload.scope,
            approval.people,
            data["code_challenge"],
            data["code_challenge_method"],
            approval.grants,
        )
        approval.saved = True

    def query_authorization_code(self, code: str, client: _Client):
        return tokens.take_code(self.server.lib, code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: tokens.Code) -> None:
        pass  # ``take_code`` spent it as it claimed it

    def authenticate_user(self, authorization_code: tokens.Code):
        return authorization_code


class LikenessAuthorizationServer(AuthorizationServer):
    def __init__(self, lib: Library):
        super().__init__(scopes_supported=list(apps.APP_SCOPES))
        self.lib = lib
        self.register_grant(_CodeGrant, [_S256Only(required=True)])
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: apps.new_secret(),
                expires_generator=lambda client, grant_type: int(tokens.TOKEN_TTL.total_seconds()),
            ),
        )

    def query_client(self, client_id: str):
        try:
            app = apps.get_app(self.lib, client_id)
        except apps.AppNotFoundError:
            return None
        return None if app.revoked_at else _Client(app)

    def save_token(self, token: dict, request) -> None:

        expires = tokens.save_token(self.lib, token["access_token"], request.user)
        token["expires_in"] = max(0, int((expires - clock.now()).total_seconds()))

    def create_oauth2_request(self, request):
        return request  # built by the route (``_Request``)

    def handle_response(self, status, body, headers):
        headers = dict(headers)
        if status == 302 and "Location" in headers:
            return RedirectResponse(headers["Location"], status_code=302)
        if status == 401:
            headers.setdefault("WWW-Authenticate", f'Bearer realm="{REALM}"')
        return JSONResponse(body, status_code=status, headers=headers)

    def send_signal(self, name, *args, **kwargs) -> None:
        pass


REALM = "likeness"


def _server(request: Request) -> LikenessAuthorizationServer:
    return request.app.state.oauth


def issuer(request: Request) -> str:
    """This authorization server's identifier: the origin it is reached at (its ``Host`` is
    one the server answers, ``security.allowed_hosts``)."""
    return str(request.base_url).rstrip("/")


def _oauth_request(request: Request, form: dict[str, str]) -> _Request:
    """The request for Authlib; OAuth 2 needs https, except on loopback (RFC 8252): served
    elsewhere over plain http (``--allow-remote`` without TLS), its endpoints answer 400."""
    try:
        return _Request(request, form)
    except InsecureTransportError as error:
        raise HTTPException(
            400, "OAuth needs https, or a loopback address (localhost, 127.0.0.1)"
        ) from error


def _with_iss(response, request: Request):
    """A redirect to the app, with ``iss`` added (RFC 9207: the app can tell which server
    answered)."""
    location = response.headers.get("location")
    if location is not None and response.status_code in (302, 303):
        from authlib.common.urls import add_params_to_uri

        response.headers["location"] = add_params_to_uri(location, [("iss", issuer(request))])
    return response


# -- the OAuth endpoints ---------------------------------------------------------------------

oauth_router = APIRouter(prefix="/oauth", tags=["oauth"])

#: The authorization request's parameters: the only ones the approval page carries on to
#: its form (anything else in the query, a ``person`` the app slipped in, is dropped).
AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
#: As the schema shows them (the route reads them itself, for Authlib, and answers a bad one
#: as OAuth says).
_AUTHORIZE_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    for name in AUTHORIZE_PARAMETERS
]


def offered_people(lib: Library) -> list:
    """The people the approval page offers: shown (not hidden), not minors, not people who
    asked never to be generated, and without an account of their own (those consent for
    themselves: the owner's approval cannot cover them). An approval may name no one
    else."""
    from likeness.consent.accounts import account_person_ids
    from likeness.people.manage import list_people

    own = account_person_ids(lib)
    return [
        p for p in list_people(lib) if not p.is_minor and not p.do_not_generate and p.id not in own
    ]


def _approval_page(request: Request, **context) -> HTMLResponse:
    from likeness.server.web import templates

    app = context.get("app")
    policy = content_security_policy([apps.redirect_origin(app.redirect_uri)] if app else [])
    return templates.TemplateResponse(
        request,
        "authorize.html",
        {"title": "Allow an app", **context},
        headers={"Cache-Control": "no-store", "Content-Security-Policy": policy},
        status_code=400 if context.get("problem") else 200,
    )


def _check_request(grant) -> None:
    """What Authlib leaves to the server, checked before the owner sees anything: a scope,
    all of it an app's; an S256 challenge named as such; a ``state`` of sensible length.
    Errors carry the (valid) redirect URI, so they go back to the app."""
    payload = grant.request.payload
    redirect_uri = grant.redirect_uri
    try:
        apps.app_scopes(payload.scope or "")
    except apps.AppError as error:
        raise InvalidScopeError(str(error), redirect_uri=redirect_uri) from error
    if payload.data.get("code_challenge_method") != "S256":
        raise InvalidRequestError("code_challenge_method must be S256", redirect_uri=redirect_uri)
    if payload.state is not None and len(payload.state) > MAX_STATE_CHARS:
        raise InvalidRequestError(
            f"state is at most {MAX_STATE_CHARS} characters", redirect_uri=redirect_uri
        )


def _validated(request: Request, oauth_request: _Request):
    """The consent grant for a whole, valid request, or the response telling why not: a
    redirect to the app with ``error`` and ``state`` when its redirect URI is known good,
    otherwise the approval page with the problem (never a redirect to an unchecked URI)."""
    server = _server(request)
    try:
        grant = server.get_consent_grant(oauth_request)
        _check_request(grant)
        return grant, None
    except ValueError:
        # Authlib refuses to put some characters (a NUL, a tab, "²"...) into an error's
        # description; such a request is bad whatever it was.
        problem = "the request has characters no OAuth parameter may have"
        return None, _approval_page(request, problem=problem, csrf_token=None)
    except OAuth2Error as error:
        error.state = oauth_request.payload.state
        if error.redirect_uri:
            status, _body, headers = error()
            response = RedirectResponse(dict(headers)["Location"], status_code=status)
            return None, _with_iss(response, request)
        return None, _approval_page(
            request, problem=error.description or error.error, csrf_token=None
        )


@oauth_router.get(
    "/authorize",
    response_class=HTMLResponse,
    openapi_extra={"parameters": _AUTHORIZE_PARAMETERS},
)
async def authorize_page(request: Request):
    """What the app asks, for the signed-in owner, or a person signed in with their passkey
    (for themselves), to allow or deny (or the sign-in page)."""
    from likeness.people.manage import best_faces
    from likeness.server.web import _sign_in_first

    state = any_session(request)
    if state is None or not (state.is_owner or state.is_person):
        return _sign_in_first(request)
    server = _server(request)
    grant, refusal = _validated(request, _oauth_request(request, {}))
    if refusal is not None:
        return refusal
    client: _Client = grant.client
    scopes = grant.request.payload.scope.split()
    query = {k: v for k, v in request.query_params.items() if k in AUTHORIZE_PARAMETERS}
    common = dict(
        app=client.app,
        scopes=scopes,
        days=apps.APPROVAL_DAYS,
        query=query,
        csrf_token=state.csrf_token,
    )
    if state.is_person:
        person_id = _person_of(server.lib, state)
        try:
            with server.lib.session() as s:
                app_requests.can_be_asked(s, person_id)
        except apps.AppError as error:  # a minor, or erased: no app may ask for them
            return _approval_page(request, problem=str(error), csrf_token=None)
        return _approval_page(request, for_self=True, person_id=person_id, **common)
    return _approval_page(
        request,
        people=offered_people(server.lib),
        faces=best_faces(server.lib),
        self_consenting=self_consenting_people(server.lib, client.app.id, scopes),
        **common,
    )


def _person_of(lib: Library, state) -> int:
    from likeness.people.records import person_id_of

    with lib.session() as s:
        person_id = person_id_of(s, state.person_uid or "")
    if person_id is None:
        raise HTTPException(404, "your person group is no longer in this library")
    return person_id


def self_consenting_people(lib: Library, app_id: str, scopes: list[str]) -> list[dict]:
    """The people who approve apps for themselves (an account; not minors, not people who
    asked never to be generated), each with the grant they signed this app for these scopes,
    if any: the owner's approval may include them by it, or send the request on to them."""
    from likeness.consent.accounts import account_person_ids
    from likeness.people.manage import list_people

    own = account_person_ids(lib)
    return [
        {
            "id": p.id,
            "name": p.name,
            "grant": app_requests.self_signed_grant(lib, app_id, p.id, scopes),
        }
        for p in list_people(lib)
        if p.id in own and not p.is_minor and not p.do_not_generate
    ]


def _chosen(submitted, field: str) -> list[int]:
    values = submitted.getlist(field)
    if not all(v.isascii() and v.isdigit() and len(v) <= 19 for v in values):
        raise HTTPException(422, "people are chosen by id")
    return list(dict.fromkeys(int(v) for v in values))


def _days(form: dict[str, str]) -> int:
    text = form.get("days", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 0


def _redirect_with_error(request: Request, grant, description: str):
    """Back to the app with ``access_denied`` and why (nothing is signed, no code)."""
    from authlib.common.urls import add_params_to_uri

    params = [("error", "access_denied"), ("error_description", description)]
    if grant.request.payload.state is not None:
        params.append(("state", grant.request.payload.state))
    response = RedirectResponse(add_params_to_uri(grant.redirect_uri, params), status_code=302)
    return _with_iss(response, request)


async def _code_for(request: Request, server, oauth_request, grant, approval, signed):
    """The redirect with a code resting on ``approval``; the grants in ``signed`` (signed
    for this approval) are taken back if no code could be made on them."""
    try:
        response = server.create_authorization_response(
            oauth_request, grant_user=approval, grant=grant
        )
    finally:
        if not approval.saved:  # no code rests on them: take them back
            await run_in_threadpool(
                apps.withdraw, server.lib, signed, "the approval could not be completed"
            )
    return _with_iss(response, request)


@oauth_router.post("/authorize")
async def authorize_decision(request: Request):
    """The owner's answer, or a person's for themselves: a redirect to the app with a code,
    or with ``access_denied``."""
    state = any_session(request)
    if state is None or not (state.is_owner or state.is_person):
        require_session(request)  # 401 or 403, as every owner's route answers
    submitted = await request.form()
    if any(not isinstance(v, str) for _, v in submitted.multi_items()):
        raise HTTPException(400, "the approval form has text fields only")
    chosen_fields = ("person", "include", "ask")
    form = {k: v for k, v in submitted.multi_items() if k not in chosen_fields}
    if not state.csrf_ok(form.pop("csrf_token", None)):
        raise HTTPException(403, "missing or wrong CSRF token")
    people, include, ask = (_chosen(submitted, f) for f in chosen_fields)
    server = _server(request)
    if state.is_person and (people or include or ask):
        return _approval_page(
            request, problem="a person answers for themselves only", csrf_token=None
        )
    oauth_request = _oauth_request(request, form)
    grant, refusal = _validated(request, oauth_request)
    if refusal is not None:
        return refusal
    if form.get("decision") != "allow":
        response = server.create_authorization_response(oauth_request, grant_user=None, grant=grant)
        return _with_iss(response, request)
    scopes = grant.request.payload.scope.split()
    app_id = grant.client.app.id
    days = _days(form)
    if state.is_person:
        person_id = _person_of(server.lib, state)
        signed = [
            await run_in_threadpool(
                app_requests.approve_for_self, server.lib, app_id, person_id, scopes, days
            )
        ]
        approval = _Approval([person_id], signed)
        return await _code_for(request, server, oauth_request, grant, approval, signed)

    offered = {p.id for p in offered_people(server.lib)}
    others = {p["id"]: p["grant"] for p in self_consenting_people(server.lib, app_id, scopes)}
    if (
        any(p not in offered for p in people)
        or any(others.get(p) is None for p in include)
        or any(p not in others for p in ask)
    ):
        # Only a person the page offered can be chosen: not one the request slipped in,
        # not a hidden person or a minor; one who approves for themselves is included only
        # by the grant they signed, or asked.
        return _approval_page(
            request, problem="choose only people this page offers", csrf_token=None
        )
    for person in ask:
        await run_in_threadpool(app_requests.ask_person, server.lib, app_id, person, scopes, days)
    if not people and not include and ask:
        return _redirect_with_error(
            request,
            grant,
            "sent on to the people chosen, who approve for themselves: ask again once they have",
        )
    enrolment = form.get("enrolment", "").strip() or None
    signed = (
        await run_in_threadpool(apps.approve, server.lib, app_id, people, scopes, days, enrolment)
        if people or not include
        else []
    )
    approval = _Approval(people + include, signed + [others[p] for p in include])
    return await _code_for(request, server, oauth_request, grant, approval, signed)


_TOKEN_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "grant_type",
                            "code",
                            "redirect_uri",
                            "client_id",
                            "code_verifier",
                        )
                    },
                }
            }
        }
    }
}


@oauth_router.post("/token", openapi_extra=_TOKEN_FORM, responses={400: {}, 401: {}})
async def token(request: Request):
    """Exchange a code and its PKCE verifier for a bearer token (form-encoded, RFC 6749)."""
    form = dict((await request.form()).items())
    if any(not isinstance(v, str) for v in form.values()):
        return JSONResponse(
            {"error": "invalid_request", "error_description": "form fields are text only"},
            status_code=400,
        )
    server = _server(request)
    return await run_in_threadpool(server.create_token_response, _oauth_request(request, form))


metadata_router = APIRouter(tags=["oauth"])


@metadata_router.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(request: Request) -> dict:
    """The authorization server's metadata (RFC 8414): where to authorize and exchange, and
    what is supported (code with S256 PKCE, public clients, the app scopes)."""
    base = issuer(request)
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": list(apps.APP_SCOPES),
        "authorization_response_iss_parameter_supported": True,
    }


# -- the owner's app routes ------------------------------------------------------------------


class AppIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    redirect_uri: str = Field(min_length=1, max_length=2000)


class AppOut(BaseModel):
    id: str
    name: str
    redirect_uri: str
    created_at: str
    revoked_at: str | None
    authorize_url: str


AppId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]


def _jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


apps_router = APIRouter(prefix="/api/apps", tags=["apps"], responses={401: {}})


def _app_out(app: apps.App) -> AppOut:
    query = urlencode({"response_type": "code", "client_id": app.id})
    return AppOut(**app.as_json(), authorize_url=f"/oauth/authorize?{query}")


@apps_router.get("", dependencies=[Depends(require_session)])
def list_apps(lib: Library = Depends(library)) -> list[AppOut]:
    return [_app_out(a) for a in apps.list_apps(lib)]


@apps_router.post(
    "", dependencies=[Depends(require_csrf)], status_code=201, responses={400: {}, 403: {}}
)
def register_app(body: AppIn, lib: Library = Depends(library)) -> AppOut:
    """Register an app (a public OAuth client): its client id is the app's id."""
    return _app_out(apps.register_app(lib, body.name, body.redirect_uri))


@apps_router.post(
    "/{app_id}/revoke", dependencies=[Depends(require_csrf)], responses={403: {}, 404: {}}
)
def revoke_app(
    app_id: AppId, lib: Library = Depends(library), queue: JobQueue = Depends(_jobs)
) -> AppOut:
    """Revoke the app, its tokens and its grants, and cancel its jobs, at once."""
    revoked = apps.revoke_app(lib, app_id)
    queue.cancel_for(revoked.grantee, "the app was revoked")
    return _app_out(revoked)


# -- the app's API -----------------------------------------------------------------------------

app_api = APIRouter(prefix="/api/app/v1", tags=["app api"], responses={401: {}})


def _bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value for the app API (RFC 6750 section 3)."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="' + description.replace('"', "'") + '"')
    return "Bearer " + ", ".join(parts)


def app_token(request: Request) -> tokens.TokenGrant:
    """The app's token from ``Authorization: Bearer`` (401 with why, otherwise)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "an app sends its access token as a Bearer token",
            headers={"WWW-Authenticate": _bearer_challenge()},
        )
    try:
        return tokens.check_token(request.app.state.library, token.strip())
    except apps.AppError as error:
        raise HTTPException(
            401,
            str(error),
            headers={"WWW-Authenticate": _bearer_challenge("invalid_token", str(error))},
        ) from error


class AppPerson(BaseModel):
    id: int
    name: str | None


@app_api.get("/people")
def app_people(
    grant: tokens.TokenGrant = Depends(app_token), lib: Library = Depends(library)
) -> list[AppPerson]:
    """The people this token may ask for (id and name: no faces, no embeddings)."""
    from likeness.people.manage import list_people

    return [AppPerson(id=p.id, name=p.name) for p in list_people(lib) if p.id in grant.people]


@app_api.post("/generate", status_code=202, responses=ERRORS)
def app_generate(
    body: GenerateJob,
    grant: tokens.TokenGrant = Depends(app_token),
    queue: JobQueue = Depends(_jobs),
    lib: Library = Depends(library),
) -> JobOut:
    """Queue a generation for the app: only people and scopes its token holds (its prompt
    is read among its people only: an error names no one else), then the same gate (as
    ``app:<id>``, on the token's grants only), safety check and provenance as the owner's."""
    from likeness.generate.run import GenerationOptions, generation_action
    from likeness.generate.styles import get_style
    from likeness.workflows import GenerateRequest, authorize_generate

    get_style(body.style)
    options = GenerationOptions(**body.model_dump(exclude={"prompt"}))
    _require_scope(grant, str(generation_action(body.style)))
    request = GenerateRequest(
        body.prompt,
        options,
        requester=grant.requester,
        among=tuple(grant.people),
        within=tuple(grant.grants),
    )
    authorize_generate(lib, request)
    return _job_for_app(queue.submit("generate", request.as_json(), requester=grant.requester))


@app_api.post("/video", status_code=202, responses=ERRORS)
def app_video(
    body: VideoJob,
    grant: tokens.TokenGrant = Depends(app_token),
    queue: JobQueue = Depends(_jobs),
    lib: Library = Depends(library),
) -> JobOut:
    """Queue a clip for the app: its token must hold ``generate-video`` (no image scope
    implies it); then the same gate, per-frame safety check and provenance as the owner's.
    The motion module is the library's own (the built-in one for the tiny models)."""
    from likeness.generate.video import VideoOptions
    from likeness.workflows import VideoRequest, authorize_video

    _require_scope(grant, "generate-video")
    request = VideoRequest(
        body.prompt,
        VideoOptions(**body.model_dump(exclude={"prompt"})),
        requester=grant.requester,
        among=tuple(grant.people),
        within=tuple(grant.grants),
    )
    authorize_video(lib, request)
    return _job_for_app(queue.submit("video", request.as_json(), requester=grant.requester))


def _require_scope(grant: tokens.TokenGrant, scope: str) -> None:
    """403 ``insufficient_scope`` unless the app's token holds ``scope``."""
    if scope not in grant.scopes:
        message = f"this app's token does not hold the {scope} scope"
        raise HTTPException(
            403,
            message,
            headers={"WWW-Authenticate": _bearer_challenge("insufficient_scope", message)},
        )


def _job_for_app(job) -> JobOut:
    """A job as its app sees it: no file paths of this machine (an image is fetched by its
    index) and no internal error's details (the owner's Jobs page has them)."""
    doc = job.as_json()
    if doc["result"]:
        images = [{k: v for k, v in i.items() if k != "path"} for i in doc["result"]["images"]]
        doc["result"] = {**doc["result"], "images": images}
    # (Jobs that failed before failure_words wrote "internal error: " and the exception.)
    if doc["message"] and doc["message"].startswith((INTERNAL_ERROR, "internal error")):
        doc["message"] = f"{INTERNAL_ERROR} (the library's owner can see what)"
    return JobOut(**doc)


def app_job(
    job_id: JobId, grant: tokens.TokenGrant = Depends(app_token), queue: JobQueue = Depends(_jobs)
):
    """One of this app's jobs (another requester's is not found)."""
    from likeness.server.jobs import JobNotFoundError

    try:
        job = queue.get(job_id)
    except JobNotFoundError:
        job = None
    if job is None or job.kind not in OUTPUT_KINDS or job.requester != grant.requester:
        raise JobNotFoundError(f"no job {job_id}")
    return job


@app_api.get("/jobs/{job_id}", responses=ERRORS)
def app_get_job(job=Depends(app_job)) -> JobOut:
    return _job_for_app(job)


@app_api.post("/jobs/{job_id}/cancel", responses=ERRORS)
def app_cancel_job(job=Depends(app_job), queue: JobQueue = Depends(_jobs)) -> JobOut:
    """Cancel one of the app's jobs, queued or running (a finished one is left as it is)."""
    return _job_for_app(queue.cancel(job.id, "cancelled by the app"))


def _app_image(
    index: Annotated[int, Path(ge=0, le=7)],
    job=Depends(app_job),
    queue: JobQueue = Depends(_jobs),
    lib: Library = Depends(library),
) -> FilePath:
    return generated_image(job.id, index, queue, lib)


@app_api.get(
    "/jobs/{job_id}/images/{index}",
    responses={**ERRORS, 200: {"content": OUTPUT_TYPES}},
    response_class=FileResponse,
)
def app_image(image: FilePath = Depends(_app_image)):
    """One image (or clip) the app's job wrote (signed and watermarked)."""
    return FileResponse(image)


# -- cross-origin requests from browser apps ---------------------------------------------------

#: The paths a browser app calls from its own origin.
CORS_PATHS = ("/oauth/token", "/api/app/v1/", "/.well-known/oauth-authorization-server")


class AppCors:
    """CORS for browser apps: a request to ``CORS_PATHS`` from the origin of a registered,
    unrevoked app's redirect URI is allowed (preflights answered here; no cookies, so no
    credentials); any other origin gets no CORS header, and the browser keeps the answer
    from it."""

    def __init__(self, app: ASGIApp, lib: Library) -> None:
        self.app = app
        self.lib = lib

    def _allowed(self, origin: str) -> bool:
        return any(
            a.revoked_at is None and apps.redirect_origin(a.redirect_uri) == origin
            for a in apps.list_apps(self.lib)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CORS_PATHS):
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and await run_in_threadpool(self._allowed, origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = Response(status_code=204 if allowed else 403)
            if allowed:
                response.headers.update(
                    {
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": "GET, POST",
                        "Access-Control-Allow-Headers": "Authorization, Content-Type",
                        "Access-Control-Max-Age": "600",
                        "Vary": "Origin",
                    }
                )
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                extra = MutableHeaders(scope=message)
                extra["Access-Control-Allow-Origin"] = origin
                extra["Access-Control-Expose-Headers"] = "WWW-Authenticate, Retry-After"
                extra.append("Vary", "Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)
