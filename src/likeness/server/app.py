"""The FastAPI application: sign-in, the session's CSRF token, and the API routers.

Every route but ``/health`` and ``/api/sign-in`` needs a signed-in session; every request
that changes state needs the session's CSRF token as well (``require_csrf``). The library's
own errors map to HTTP statuses here, in one place, as ``cli.common`` maps them to exit codes
(a page of the web app gets them as a page, an API call as JSON). What every request passes
first (its ``Host``, its body's size) and the headers of every response are
``server.security``'s.

The interactive docs (``/docs``, ``/redoc``) are off: FastAPI's load their scripts from a CDN
into this origin. The schema is at ``/openapi.json`` for any OpenAPI viewer.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.middleware.trustedhost import TrustedHostMiddleware

from likeness.errors import BusyError, LikenessError
from likeness.server import (
    consent,
    enrolment,
    faces,
    jobs_routes,
    me,
    oauth,
    people,
    photos,
    provenance,
    web,
)
from likeness.server.deps import require_csrf, require_session, set_session_cookie
from likeness.server.jobs import MAX_PENDING, JobQueue
from likeness.server.owner import check_owner_passphrase, device_cookie_key, has_owner_passphrase
from likeness.server.security import (
    MAX_BODY_BYTES,
    SIGN_IN_BODY_BYTES,
    SecurityHeaders,
    allowed_hosts,
)
from likeness.server.sessions import (
    ANONYMOUS,
    COOKIE_NAME,
    DEVICE_COOKIE_NAME,
    DEVICE_COOKIE_PATH,
    DEVICE_COOKIE_TTL_S,
    SESSION_TTL_S,
    SessionStore,
    SignedIn,
    SignInGuard,
    TooManyTriesError,
    device_id,
    new_device_cookie,
)
from likeness.server.tls import ServerCertificate
from likeness.store import Library


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (still JSON to any reader)."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


class SignIn(BaseModel):
    passphrase: str


class SessionInfo(BaseModel):
    csrf_token: str


def create_app(
    lib: Library,
    secure_cookies: bool = False,
    max_pending_jobs: int = MAX_PENDING,
    *,
    host: str | None = None,
    hosts: Iterable[str] = (),
    sign_in_guard: SignInGuard | None = None,
    tls: ServerCertificate | None = None,
) -> FastAPI:
    """The server for one library. ``secure_cookies``: mark the session cookie Secure (when
    served over HTTPS; on plain loopback HTTP a browser would not send it back). ``host``:
    the address it is bound to, and ``hosts`` other names it is reached by: any other
    ``Host`` is refused (``security.allowed_hosts``). The job queue runs while the app does
    (its lifespan): jobs a previous run left unfinished are marked interrupted when it
    starts."""
    queue = JobQueue(lib, max_pending_jobs)
    device_key = device_cookie_key(lib)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        queue.start()
        try:
            yield
        finally:
            queue.stop()

    app = FastAPI(
        title="likeness",
        version="0.1.0",
        description="The local likeness server: the same library functions as the CLI.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        max_body_size=MAX_BODY_BYTES,
    )
    app.add_middleware(oauth.AppCors, lib=lib)
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts(host, hosts), www_redirect=False
    )
    # The security headers go on outside everything FastAPI builds, so that its own answers
    # (a refused Host, a body over the limit, a 500) carry them too.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build_stack())
    app.state.library = lib
    app.state.secure_cookies = secure_cookies
    app.state.jobs = queue
    app.state.sessions = SessionStore()
    app.state.sign_in_guard = sign_in_guard or SignInGuard()
    app.state.oauth = oauth.LikenessAuthorizationServer(lib)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError):
        if web.is_page_request(request):
            # A page's bad address (?page=0, a sort that is none) gets a page saying which
            # part was wrong, as a page's other errors do, not the API's JSON.
            problems = "; ".join(
                f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors() if e.get("loc")
            )
            return web.error_page(
                request, 422, f"This address is not one of the app's: {problems}."
            )
        # FastAPI's own handler echoes the input as UTF-8, and a lone surrogate (valid JSON)
        # cannot be: escaped JSON always renders.
        return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)

    @app.exception_handler(LikenessError)
    def _likeness_error(request: Request, exc: LikenessError):
        # The error's kind says its status (likeness.errors): 404 for a missing thing, 429
        # with Retry-After for a full queue, and so on.
        headers = {}
        if isinstance(exc, BusyError):
            headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        if web.is_page_request(request):
            page = web.error_page(request, exc.http_status, str(exc))
            page.headers.update(headers)
            return page
        body = {"detail": str(exc)}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @app.get("/tls/ca.pem", tags=["server"], responses={404: {}})
    def tls_ca() -> Response:
        """The server's CA certificate (when served with ``--tls``): what a phone installs
        once to trust this server (public: no sign-in)."""
        if tls is None:
            raise HTTPException(404, "this server is not serving HTTPS")
        return Response(
            tls.ca_path.read_bytes(),
            media_type="application/x-x509-ca-cert",
            headers={"Content-Disposition": 'attachment; filename="likeness-server-ca.pem"'},
        )

    @app.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Whether the server is up (no sign-in needed)."""
        return {"status": "ok"}

    @app.post(
        "/api/sign-in",
        tags=["session"],
        responses={401: {}, 409: {}, 413: {}, 429: {}},
        max_body_size=SIGN_IN_BODY_BYTES,
    )
    async def sign_in(body: SignIn, request: Request, response: Response) -> SessionInfo:
        """Sign in with the owner's passphrase: sets the session cookie and returns the
        session's CSRF token. Failed tries slow the next ones down (``SignInGuard``: a try
        may wait its turn, or get 429 with Retry-After); a browser that signed in before
        has a count of its own."""
        guard: SignInGuard = request.app.state.sign_in_guard
        device = device_id(request.cookies.get(DEVICE_COOKIE_NAME), device_key)
        key = f"device:{device}" if device else ANONYMOUS
        try:
            wait = guard.reserve(key)
        except TooManyTriesError as exc:
            raise HTTPException(
                429,
                "too many failed sign-ins; wait",
                headers={"Retry-After": str(int(exc.retry_after_s) + 1)},
            ) from None
        succeeded = False
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            if not has_owner_passphrase(lib):
                raise HTTPException(409, "no owner passphrase is set: run `likeness serve` first")
            if not await run_in_threadpool(check_owner_passphrase, lib, body.passphrase):
                raise HTTPException(401, "wrong passphrase")
            succeeded = True
        finally:
            guard.settle(key, succeeded)
        token, state = request.app.state.sessions.start()
        set_session_cookie(request, response, token, SESSION_TTL_S)
        if device is None:
            response.set_cookie(
                DEVICE_COOKIE_NAME,
                new_device_cookie(device_key),
                max_age=DEVICE_COOKIE_TTL_S,
                httponly=True,
                samesite="strict",
                secure=secure_cookies,
                path=DEVICE_COOKIE_PATH,
            )
        return SessionInfo(csrf_token=state.csrf_token)

    @app.get("/sign-in/link/{token}", include_in_schema=False)
    def sign_in_link(token: str, request: Request) -> RedirectResponse:
        """A one-time sign-in link: a session, then the people page; spent or expired, the
        sign-in page."""
        if not request.app.state.sessions.redeem_link(token):
            return RedirectResponse("/sign-in", status_code=303)
        session_token, _ = request.app.state.sessions.start()
        response = RedirectResponse("/people", status_code=303)
        set_session_cookie(request, response, session_token, SESSION_TTL_S)
        return response

    @app.get("/api/session", tags=["session"], responses={401: {}})
    def session_info(state: SignedIn = Depends(require_session)) -> SessionInfo:
        """The signed-in session's CSRF token (a reloaded page asks for it again)."""
        return SessionInfo(csrf_token=state.csrf_token)

    @app.post("/api/sign-out", tags=["session"], status_code=204, responses={401: {}, 403: {}})
    def sign_out(
        request: Request, response: Response, _state: SignedIn = Depends(require_csrf)
    ) -> None:
        request.app.state.sessions.end(request.cookies.get(COOKIE_NAME))
        response.delete_cookie(COOKIE_NAME, path="/")

    app.include_router(people.router)
    app.include_router(faces.router)
    app.include_router(photos.router)
    app.include_router(jobs_routes.router)
    app.include_router(provenance.router)
    app.include_router(consent.router)
    app.include_router(enrolment.router)
    app.include_router(oauth.oauth_router)
    app.include_router(oauth.metadata_router)
    app.include_router(oauth.apps_router)
    app.include_router(oauth.app_api)
    app.include_router(me.router)
    app.include_router(me.pages)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.HERE / "static"), name="static")
    return app
