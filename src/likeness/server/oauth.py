"""Third-party apps over OAuth 2: the authorization-code flow with PKCE (Authlib's
``AuthorizationServer`` and ``AuthorizationCodeGrant`` with ``CodeChallenge``), the owner's
approval page, the owner's app routes, and the API an app calls with its token.

- ``GET /oauth/authorize``: the owner, signed in, sees what the app asks (scopes) and picks
  the people and how long; ``POST /oauth/authorize`` (the session's CSRF token in the form)
  signs a grant to ``app:<id>`` per person (``apps.approve``) and redirects to the app with a
  code, or with ``access_denied``. Only S256 challenges are accepted.
- ``POST /oauth/token``: code + verifier for a bearer token (``apps.save_token``).
- ``/api/apps``: the owner registers, lists and revokes apps (session and CSRF).
- ``/api/app/v1/...``: the app's own API, with ``Authorization: Bearer``: the people it may
  ask for (id and name only), generations (through the gate as ``requester = app:<id>``,
  the safety check and provenance, as the owner's), its own jobs and their images.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, ClassVar
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from likeness.server import apps
from likeness.server.deps import MAX_ID, library, require_csrf, require_session
from likeness.server.jobs import JobQueue
from likeness.server.jobs_routes import ERRORS, GenerateJob, JobId, JobOut, generated_image
from likeness.store import Library


class _Client(ClientMixin):
    """A registered app as Authlib sees it: a public client with one redirect URI."""

    def __init__(self, app: apps.App):
        self.app = app

    def get_client_id(self) -> str:
        return self.app.id

    def get_default_redirect_uri(self) -> str:
        return self.app.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
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
    """The owner's approval, carried from the page to the code: the people chosen."""

    def __init__(self, people: list[int]):
        self.people = people


class _CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def generate_authorization_code(self) -> str:
        return apps.new_secret()

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        apps.save_code(
            self.server.lib,
            code,
            request.client.get_client_id(),
            request.payload.redirect_uri,
            request.payload.scope,
            request.user.people,
            data["code_challenge"],
            data.get("code_challenge_method", "S256"),
        )

    def query_authorization_code(self, code: str, client: _Client):
        return apps.take_code(self.server.lib, code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: apps.Code) -> None:
        apps.spend_code(self.server.lib, authorization_code)

    def authenticate_user(self, authorization_code: apps.Code):
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
                expires_generator=lambda client, grant_type: int(apps.TOKEN_TTL.total_seconds()),
            ),
        )

    def query_client(self, client_id: str):
        try:
            app = apps.get_app(self.lib, client_id)
        except apps.AppNotFoundError:
            return None
        return None if app.revoked_at else _Client(app)

    def save_token(self, token: dict, request) -> None:
        from datetime import datetime

        expires = apps.save_token(self.lib, token["access_token"], request.user)
        token["expires_in"] = max(0, int((expires - datetime.now()).total_seconds()))

    def create_oauth2_request(self, request):
        return request  # built by the route (``_Request``)

    def handle_response(self, status, body, headers):
        headers = dict(headers)
        if status == 302 and "Location" in headers:
            return RedirectResponse(headers["Location"], status_code=302)
        return JSONResponse(body, status_code=status, headers=headers)

    def send_signal(self, name, *args, **kwargs) -> None:
        pass


def _server(request: Request) -> LikenessAuthorizationServer:
    return request.app.state.oauth


def _oauth_request(request: Request, form: dict[str, str]) -> _Request:
    """The request for Authlib; OAuth 2 needs https, except on loopback (RFC 8252): served
    elsewhere over plain http (``--allow-remote`` without TLS), its endpoints answer 400."""
    try:
        return _Request(request, form)
    except InsecureTransportError as error:
        raise HTTPException(
            400, "OAuth needs https, or a loopback address (localhost, 127.0.0.1)"
        ) from error


# -- the OAuth endpoints ---------------------------------------------------------------------

oauth_router = APIRouter(prefix="/oauth", tags=["oauth"])


def _approval_page(request: Request, **context) -> HTMLResponse:
    from likeness.server.web import templates

    return templates.TemplateResponse(
        request,
        "authorize.html",
        {"title": "Allow an app", **context},
        headers={"Cache-Control": "no-store"},
        status_code=400 if context.get("problem") else 200,
    )


@oauth_router.get("/authorize", response_class=HTMLResponse)
async def authorize_page(request: Request):
    """What the app asks, for the signed-in owner to allow or deny (or the sign-in page)."""
    from likeness.people.manage import list_people
    from likeness.server.web import _session, _sign_in_first

    state = _session(request)
    if state is None:
        return _sign_in_first(request)
    server = _server(request)
    try:
        grant = server.get_consent_grant(_oauth_request(request, {}))
    except OAuth2Error as error:
        return _approval_page(request, problem=error.description or error.error, csrf_token=None)
    client: _Client = grant.client
    people = [p for p in list_people(server.lib) if not p.is_minor]
    return _approval_page(
        request,
        app=client.app,
        scopes=grant.request.payload.scope.split(),
        people=people,
        query=dict(request.query_params),
        csrf_token=state.csrf_token,
    )


@oauth_router.post("/authorize")
async def authorize_decision(request: Request):
    """The owner's answer: a redirect to the app with a code, or with ``access_denied``."""
    state = require_session(request)
    submitted = await request.form()
    form = {k: v for k, v in submitted.multi_items() if k != "person"}
    people = [int(p) for p in submitted.getlist("person") if p.isdigit()]
    if any(p > MAX_ID for p in people):
        raise HTTPException(422, "no such person")
    if not state.csrf_ok(form.pop("csrf_token", None)):
        raise HTTPException(403, "missing or wrong CSRF token")
    server = _server(request)
    oauth_request = _oauth_request(request, form)
    try:
        grant = server.get_consent_grant(oauth_request)
    except OAuth2Error as error:  # nothing is sent to a redirect URI that did not validate
        return _approval_page(request, problem=error.description or error.error, csrf_token=None)
    if form.get("decision") != "allow":
        return server.create_authorization_response(oauth_request, grant_user=None, grant=grant)
    days = int(form.get("days", "30")) if form.get("days", "30").isdigit() else 0
    scopes = grant.request.payload.scope.split()
    enrolment = form.get("enrolment", "").strip() or None
    await run_in_threadpool(
        apps.approve, server.lib, grant.client.app.id, people, scopes, days, enrolment
    )
    return server.create_authorization_response(
        oauth_request, grant_user=_Approval(people), grant=grant
    )


@oauth_router.post("/token")
async def token(request: Request):
    """Exchange a code and its PKCE verifier for a bearer token (form-encoded, RFC 6749)."""
    form = dict((await request.form()).items())
    server = _server(request)
    return await run_in_threadpool(server.create_token_response, _oauth_request(request, form))


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
def revoke_app(app_id: AppId, lib: Library = Depends(library)) -> AppOut:
    """Revoke the app, its tokens and its grants, at once."""
    return _app_out(apps.revoke_app(lib, app_id))


# -- the app's API -----------------------------------------------------------------------------

app_api = APIRouter(prefix="/api/app/v1", tags=["app api"], responses={401: {}})


def app_token(request: Request) -> apps.TokenGrant:
    """The app's token from ``Authorization: Bearer`` (401 with why, otherwise)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "an app sends its access token as a Bearer token")
    try:
        return apps.check_token(request.app.state.library, token.strip())
    except apps.AppError as error:
        raise HTTPException(
            401, str(error), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from error


class AppPerson(BaseModel):
    id: int
    name: str | None


@app_api.get("/people")
def app_people(
    grant: apps.TokenGrant = Depends(app_token), lib: Library = Depends(library)
) -> list[AppPerson]:
    """The people this token may ask for (id and name: no faces, no embeddings)."""
    from likeness.people.manage import list_people

    return [AppPerson(id=p.id, name=p.name) for p in list_people(lib) if p.id in grant.people]


def _jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


@app_api.post("/generate", status_code=202, responses=ERRORS)
def app_generate(
    body: GenerateJob,
    grant: apps.TokenGrant = Depends(app_token),
    queue: JobQueue = Depends(_jobs),
    lib: Library = Depends(library),
) -> JobOut:
    """Queue a generation for the app: only people and scopes its token holds, then the
    same gate (as ``app:<id>``), safety check and provenance as the owner's."""
    from likeness.consent.policy import GateError
    from likeness.generate.prompt import parse_prompt
    from likeness.generate.run import GenerationOptions, authorize_generation, generation_action
    from likeness.generate.styles import get_style

    get_style(body.style)
    options = body.model_dump(exclude={"prompt"})
    outside = [p for p in parse_prompt(lib, body.prompt).people if p not in grant.people]
    if outside:
        raise GateError(f"this app's token does not cover person {outside[0]}")
    action = str(generation_action(body.style))
    if action not in grant.scopes:
        raise GateError(f"this app's token does not hold the {action} scope")
    decision = authorize_generation(
        lib, body.prompt, GenerationOptions(**options), requester=grant.requester
    )
    if not decision.allowed:
        raise GateError(f"generation refused: {decision.reason}")
    params = {"prompt": body.prompt, "options": options, "requester": grant.requester}
    return JobOut(**queue.submit("generate", params).as_json())


def app_job(
    job_id: JobId, grant: apps.TokenGrant = Depends(app_token), queue: JobQueue = Depends(_jobs)
):
    """One of this app's jobs (another requester's is not found)."""
    from likeness.server.jobs import JobNotFoundError

    job = queue.get(job_id)
    if job.kind != "generate" or job.params.get("requester") != grant.requester:
        raise JobNotFoundError(f"no job {job_id}")
    return job


@app_api.get("/jobs/{job_id}", responses=ERRORS)
def app_get_job(job=Depends(app_job)) -> JobOut:
    return JobOut(**job.as_json())


def _app_image(
    index: Annotated[int, Path(ge=0, le=7)],
    job=Depends(app_job),
    queue: JobQueue = Depends(_jobs),
    lib: Library = Depends(library),
) -> FilePath:
    return generated_image(job.id, index, queue, lib)


@app_api.get(
    "/jobs/{job_id}/images/{index}",
    responses={**ERRORS, 200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
    response_class=FileResponse,
)
def app_image(image: FilePath = Depends(_app_image)):
    """One image the app's job wrote (signed and watermarked)."""
    return FileResponse(image)
