"""Signed-in browser sessions, their CSRF tokens, and the guard against passphrase guessing.

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
import math
import secrets
import struct
import threading
import time
from dataclasses import dataclass

from likeness.errors import BusyError

COOKIE_NAME = "likeness_session"
CSRF_HEADER = "X-CSRF-Token"
#: A session ends this long after sign-in (seconds), or at sign-out.
SESSION_TTL_S = 12 * 3600
#: A one-time sign-in link works once, within this many seconds.
LINK_TTL_S = 600
#: The cookie that tells a browser that signed in before (``SignInGuard``); sent only to the
#: sign-in route, for a year.
DEVICE_COOKIE_NAME = "likeness_device"
DEVICE_COOKIE_PATH = "/api/sign-in"
DEVICE_COOKIE_TTL_S = 365 * 24 * 3600
#: Failed sign-ins in one count that are checked without waiting (``SignInGuard``).
SIGN_IN_FREE_FAILURES = 5
#: The wait after the first failure past the free ones, doubled with each one after.
SIGN_IN_BASE_DELAY_S = 1.0
SIGN_IN_MAX_DELAY_S = 60.0
#: A try whose turn is further away than this is answered 429 at once.
SIGN_IN_MAX_WAIT_S = 30.0
#: A count with no failure for this long starts again.
SIGN_IN_FORGET_AFTER_S = 3600.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: Who a session acts for: the library's owner (passphrase), ...
OWNER = "owner"
#: ... a person signed in with their passkey (``person:<uid>``), or someone who opened a
#: person's invitation and has not registered a passkey yet (``invitee:<uid>``): they may
#: only enrol against that group and register one.
PERSON_PREFIX = "person:"
INVITEE_PREFIX = "invitee:"
#: Registration challenges outstanding for one browser session (each lives 5 minutes).
MAX_CHALLENGES_PER_PURPOSE = 5
#: Live enrolment sessions one browser session may draw.
MAX_DRAWN = 20
#: An invitation's session lasts this long (enrolment, then a passkey).
INVITEE_TTL_S = 30 * 60


@dataclass(frozen=True)
class SignedIn:
    csrf_token: str
    expires_at: float
    who: str = OWNER
    #: For an invitee: the invitation they opened, and when (``consent.invitations``).
    invitation: str | None = None

    @property
    def is_owner(self) -> bool:
        return self.who == OWNER

    @property
    def person_uid(self) -> str | None:
        """The person a person's or an invitee's session acts for (None for the owner)."""
        for prefix in (PERSON_PREFIX, INVITEE_PREFIX):
            if self.who.startswith(prefix):
                return self.who.removeprefix(prefix)
        return None

    @property
    def is_person(self) -> bool:
        return self.who.startswith(PERSON_PREFIX)

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


class SessionStore:
    """The signed-in sessions of one server process."""

    def __init__(self, ttl_s: float = SESSION_TTL_S, clock=time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._sessions: dict[str, SignedIn] = {}
        self._links: dict[str, float] = {}
        self._challenges: dict[str, tuple[str, float, bytes]] = {}
        self._drawn: dict[str, set[str]] = {}
        self._used: dict[str, float] = {}
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()

    def start(
        self, who: str = OWNER, invitation: str | None = None, ttl_s: float | None = None
    ) -> tuple[str, SignedIn]:
        """A new session: (cookie token, its state)."""
        token = secrets.token_urlsafe(32)
        ttl = self._ttl_s if ttl_s is None else ttl_s
        state = SignedIn(secrets.token_urlsafe(32), self._clock() + ttl, who, invitation)
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
                self._drawn.pop(_digest(token), None)

    def note_drawn(self, token: str | None, enrolment_session: str) -> int:
        """Record that this browser session drew the live enrolment session
        ``enrolment_session`` (a person's passkey and the grants they sign rest only on
        live checks their own browser ran); how many it has drawn. The route that draws
        them stops at ``MAX_DRAWN``."""
        if not token:
            return 0
        with self._lock:
            drawn = self._drawn.setdefault(_digest(token), set())
            drawn.add(enrolment_session)
            return len(drawn)

    def drawn(self, token: str | None) -> frozenset[str]:
        """The live enrolment sessions this browser session drew (``note_drawn``)."""
        if not token:
            return frozenset()
        with self._lock:
            return frozenset(self._drawn.get(_digest(token), ()))

    def carry_drawn(self, old: str | None, new: str) -> None:
        """Hand the live checks drawn in session ``old`` on to ``new`` (an invitee who
        registered a passkey is signed in anew, and may sign a grant on the check just
        passed)."""
        with self._lock:
            drawn = self._drawn.get(_digest(old), set()) if old else set()
            self._drawn[_digest(new)] = set(drawn)

    def issue_challenge(self, purpose: str, data: bytes = b"", ttl_s: float = 300.0) -> bytes:
        """A random WebAuthn challenge for ``purpose`` (a registration in one browser
        session), with ``data`` to hand back when it is spent (``spend_challenge``). At most
        ``MAX_CHALLENGES_PER_PURPOSE`` are outstanding for one purpose (the oldest is dropped):
        only a signed-in invitee can ask for one, and cannot grow the server's memory."""
        challenge = secrets.token_bytes(32)
        with self._lock:
            now = self._clock()
            mine = [k for k, v in self._challenges.items() if v[0] == purpose]
            for key in mine[: max(0, len(mine) - MAX_CHALLENGES_PER_PURPOSE + 1)]:
                del self._challenges[key]
            self._challenges = {k: v for k, v in self._challenges.items() if v[1] > now}
            self._challenges[_digest(challenge.hex())] = (purpose, now + ttl_s, data)
        return challenge

    def spend_challenge(self, challenge: bytes, purpose: str) -> bytes | None:
        """The data of ``challenge`` if it was issued for ``purpose`` and is live (else
        None); spent either way."""
        with self._lock:
            issued = self._challenges.pop(_digest(challenge.hex()), None)
        if issued is None or issued[0] != purpose or issued[1] <= self._clock():
            return None
        return issued[2]

    def sign_in_challenge(self, ttl_s: float = 300.0) -> bytes:
        """A challenge for a passkey sign-in, kept nowhere: a random part, its expiry, and an
        HMAC of both under this process's key. Anyone may ask for one (sign-in comes before
        any session), so storing them would let a flood of requests fill the server's memory
        and lock everyone out; a stateless one costs nothing to hand out."""
        nonce = secrets.token_bytes(16)
        expires = struct.pack(">d", time.time() + ttl_s)
        return nonce + expires + hmac.new(self._key, nonce + expires, "sha256").digest()

    def valid_sign_in_challenge(self, challenge: bytes) -> bool:
        """Whether ``challenge`` is one of ours, unexpired and not used for a sign-in
        before (``used_sign_in``)."""
        if len(challenge) != 16 + 8 + 32:
            return False
        body, mac = challenge[:24], challenge[24:]
        expected = hmac.new(self._key, body, "sha256").digest()
        if not hmac.compare_digest(mac, expected):
            return False
        (expires,) = struct.unpack(">d", body[16:24])
        with self._lock:
            return expires > time.time() and _digest(challenge.hex()) not in self._used

    def used_sign_in(self, challenge: bytes) -> bool:
        """Mark a sign-in challenge used, once a passkey answered it (False when it was
        already: a replay). Only sign-ins that verified are kept, until they expire."""
        (expires,) = struct.unpack(">d", challenge[16:24])
        key = _digest(challenge.hex())
        with self._lock:
            now = time.time()
            self._used = {k: t for k, t in self._used.items() if t > now}
            if key in self._used:
                return False
            self._used[key] = expires
            return True


@dataclass
class _Count:
    """One count of failed sign-ins: failures, tries being checked, and when the next try's
    turn comes."""

    failures: int = 0
    pending: int = 0
    next_at: float = 0.0
    last_failure: float = -math.inf


class TooManyTriesError(BusyError):
    """A try whose turn would come too late: answer 429 with ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"too many failed sign-ins; try again in {retry_after_s:.0f} s",
            retry_after_s=retry_after_s,
        )


class SignInGuard:
    """Slows passphrase guessing without letting a guesser lock the owner out.

    Tries are counted in two kinds of count: each browser that has signed in before (it holds
    a *device cookie*, a random id this server signed at that sign-in) has a count of its
    own, and every other try shares one count (every process on this machine reaches a
    loopback server from 127.0.0.1, so an address tells nothing about who is trying). After
    ``free`` failures in a count, each further try of that count waits its turn before its
    passphrase is checked: ``base_delay_s`` after the previous one, doubled with each failure,
    at most ``max_delay_s``; a try whose turn is more than ``max_wait_s`` away is answered at
    once with 429 and Retry-After. A try takes its turn atomically before it is checked, as if
    the tries still being checked had failed, so parallel tries queue one behind another
    instead of being checked together. A success clears its count; a count with no failure
    for ``forget_after_s`` starts again.

    So a guesser gets about one try a ``max_delay_s`` once past the free ones, and slows only
    the tries of browsers that never signed in: the owner's browser keeps its own count."""

    def __init__(
        self,
        free: int = SIGN_IN_FREE_FAILURES,
        base_delay_s: float = SIGN_IN_BASE_DELAY_S,
        max_delay_s: float = SIGN_IN_MAX_DELAY_S,
        max_wait_s: float = SIGN_IN_MAX_WAIT_S,
        forget_after_s: float = SIGN_IN_FORGET_AFTER_S,
        clock=time.monotonic,
    ) -> None:
        self.free = free
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_wait_s = max_wait_s
        self.forget_after_s = forget_after_s
        self._clock = clock
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def delay_s(self, failures: int) -> float:
        """How long after a try the next one of its count waits, given ``failures``."""
        if failures < self.free:
            return 0.0
        return min(self.base_delay_s * 2 ** (failures - self.free), self.max_delay_s)

    def reserve(self, key: str) -> float:
        """Take the next turn of ``key``'s count: the seconds to wait before checking the
        passphrase. Raises ``TooManyTriesError`` when that turn is too far away."""
        with self._lock:
            now = self._clock()
            count = self._counts.setdefault(key, _Count())
            if not count.pending and now - count.last_failure > self.forget_after_s:
                count.failures, count.next_at = 0, now
            start = max(now, count.next_at)
            if start - now > self.max_wait_s:
                raise TooManyTriesError(start - now - self.max_wait_s)
            count.pending += 1
            count.next_at = start + self.delay_s(count.failures + count.pending)
            return start - now

    def settle(self, key: str, succeeded: bool) -> None:
        """Record the outcome of a try that took a turn with ``reserve``."""
        with self._lock:
            count = self._counts[key]
            count.pending -= 1
            if succeeded:
                count.failures, count.next_at = 0, self._clock()
                if not count.pending:
                    del self._counts[key]
            else:
                count.failures += 1
                count.last_failure = self._clock()


ANONYMOUS = "anonymous"


def device_id(cookie: str | None, key: bytes) -> str | None:
    """The device id a device cookie carries, if this server signed it (else None)."""
    if not cookie or "." not in cookie:
        return None
    device, _, mac = cookie.partition(".")
    expected = hmac.new(key, device.encode(), hashlib.sha256).hexdigest()
    return device if hmac.compare_digest(mac, expected) else None


def new_device_cookie(key: bytes) -> str:
    """A device cookie for a browser that has just signed in: a random id and its HMAC."""
    device = secrets.token_urlsafe(16)
    return f"{device}.{hmac.new(key, device.encode(), hashlib.sha256).hexdigest()}"
