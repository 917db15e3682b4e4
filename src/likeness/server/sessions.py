"""Signed-in browser sessions, their CSRF tokens, and the sign-in rate limit.

A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie; the server keeps
only its SHA-256 (a leaked memory dump or log holds no usable cookie). Each session has its own
CSRF token, which every state-changing request must echo in the ``X-CSRF-Token`` header
(synchronizer-token pattern: SameSite alone does not cover older browsers or same-site
subdomains). Sessions live in memory: a restart signs everyone out, which for a server on one
machine is a feature, not a loss.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

COOKIE_NAME = "likeness_session"
CSRF_HEADER = "X-CSRF-Token"
#: A session ends this long after sign-in (seconds), or at sign-out.
SESSION_TTL_S = 12 * 3600
#: A one-time sign-in link works once, within this many seconds.
LINK_TTL_S = 600
#: Failed sign-ins allowed from one client in SIGN_IN_WINDOW_S before it must wait.
SIGN_IN_FAILURES = 5
SIGN_IN_WINDOW_S = 60.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    csrf_token: str
    expires_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


class SessionStore:
    """The signed-in sessions of one server process."""

    def __init__(self, ttl_s: float = SESSION_TTL_S, clock=time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._sessions: dict[str, SignedIn] = {}
        self._links: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self) -> tuple[str, SignedIn]:
        """A new session: (cookie token, its state)."""
        token = secrets.token_urlsafe(32)
        state = SignedIn(secrets.token_urlsafe(32), self._clock() + self._ttl_s)
        with self._lock:
            self._sessions[_digest(token)] = state
        return token, state

    def get(self, token: str | None) -> SignedIn | None:
        if not token:
            return None
        with self._lock:
            state = self._sessions.get(_digest(token))
            if state is not None and state.expires_at <= self._clock():
                del self._sessions[_digest(token)]
                return None
            return state

    def issue_link(self, ttl_s: float = LINK_TTL_S) -> str:
        """A token for a one-time sign-in link (``likeness demo --serve`` prints one)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._links[_digest(token)] = self._clock() + ttl_s
        return token

    def redeem_link(self, token: str) -> bool:
        """Whether ``token`` is a live one-time link; it is spent either way."""
        with self._lock:
            expires = self._links.pop(_digest(token), None)
        return expires is not None and expires > self._clock()

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)


class SignInLimiter:
    """At most ``failures`` failed sign-ins per client per ``window_s`` (a sliding window)."""

    def __init__(
        self,
        failures: int = SIGN_IN_FAILURES,
        window_s: float = SIGN_IN_WINDOW_S,
        clock=time.monotonic,
    ) -> None:
        self._failures = failures
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Seconds ``client`` must wait before trying again (0 when it may try now)."""
        now = self._clock()
        with self._lock:
            times = self._seen.get(client)
            if not times:
                return 0.0
            while times and times[0] <= now - self._window_s:
                times.popleft()
            if len(times) < self._failures:
                return 0.0
            return times[0] + self._window_s - now

    def failed(self, client: str) -> None:
        with self._lock:
            self._seen.setdefault(client, deque()).append(self._clock())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._seen.pop(client, None)
