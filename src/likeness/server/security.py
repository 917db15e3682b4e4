"""What the server does to every request before a route sees it, and to every response.

- **Host** (``allowed_hosts``): only the names this server is reached by (loopback, the bound
  address, names the owner configured). A page on ``evil.example`` whose name an attacker
  points at 127.0.0.1 (DNS rebinding) sends ``Host: evil.example``: refused with 400, so it
  can neither sign in nor read anything as same-origin.
- **Body size**: each route reads at most so many bytes (FastAPI's ``max_body_size``: the
  app's ``MAX_BODY_BYTES``, less on routes that need less), checked against
  ``Content-Length`` before anything is read and counted while a chunked body arrives: a
  50 MB body to the sign-in route is refused with 413 without being parsed.
- **Headers on every response** (``SecurityHeaders``): a Content Security Policy (scripts,
  styles and connections from this origin only; no framing by any page, which stops
  clickjacking of the approval page; forms post only here), ``X-Frame-Options: DENY`` for
  older browsers, ``nosniff``, and ``Referrer-Policy: no-referrer`` (an approval page's URL
  carries an app's ``state``).
- **Where to go after sign-in** (``safe_next``): only a path of this site.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from likeness.apps.registry import is_host

#: Where a sign-in goes when ``next`` is missing or not a path of this site.
DEFAULT_NEXT = "/people"
#: The names a loopback server answers to.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

#: Bytes a request body may have (JSON edits, forms); routes that need less say so.
MAX_BODY_BYTES = 64 * 1024
#: The sign-in route's limit: a passphrase in a small JSON object.
SIGN_IN_BODY_BYTES = 1024


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site (``/people/3?x=1``), else ``DEFAULT_NEXT``.

    Refused: anything with a scheme (``javascript:``, ``https://evil.example/``), a
    scheme-relative ``//evil.example``, a backslash (browsers read ``/\\evil.example`` as
    ``//evil.example``), and control characters (which browsers strip before parsing)."""
    if not value or not value.startswith("/") or "\\" in value:
        return DEFAULT_NEXT
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return DEFAULT_NEXT
    return value


def allowed_hosts(bound: str | None, extra: Iterable[str] = ()) -> list[str]:
    """The ``Host`` names this server answers: loopback's, the address it is bound to (unless
    a wildcard: then only what the owner names reaches it), and ``extra`` names, each a host
    name or an address without a port (``ValueError`` otherwise: "*" would turn the check
    off)."""
    hosts = list(LOOPBACK_HOSTS)
    names = [h.strip().lower() for h in extra if h.strip()]
    if bound and bound not in ("0.0.0.0", "::", ""):
        names.append(bound.lower())
    for name in names:
        if not is_host(name.removeprefix("[").removesuffix("]")):
            raise ValueError(f"{name!r} is not a host name or an IP address (no port, no wildcard)")
        hosts.append(f"[{name.strip('[]')}]" if ":" in name else name)
    return list(dict.fromkeys(hosts))


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """The policy of every page; ``form_targets``: origins a form may also be sent on to
    (browsers check a form's redirect too: the approval page redirects to the app)."""
    forms = " ".join(["'self'", *form_targets])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action {forms}; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds the security headers to every HTTP response (a response that set its own Content
    Security Policy keeps it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.policy = content_security_policy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.policy)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
