"""The one gate: ``authorize`` decides whether an action on people's likeness may happen.

Deny by default. Every path that trains, generates or exports (CLI, Python, later the HTTP
API) asks ``authorize`` and hands the resulting ``Decision`` to the function doing the work,
which refuses anything but an allowing Decision made here: a call that skipped the gate cannot
be written by mistake. Every decision is appended to the audit log.

A Decision is not a licence for ever: long work (training an adapter, a batch of images) calls
``Decision.check_in_force`` before each step, which decides again under the same rules, so a
revocation, an expiry, a merge or a person newly marked a minor stops work already under way.

Generating with no person involved uses no likeness and is allowed (the output safety gate
still checks every face). Otherwise, for each person involved (all must pass):
- the person still exists (a grant names a person by uid; merged or deleted people are gone);
- the person has not asked never to be generated (``consent.erasure``: whatever grants exist);
- a grant in force (signature valid, not revoked, not expired) covers the action's scope,
  for this requester;
- its trust level suits the model: ``verified`` for real models; the built-in tiny test
  models also accept ``attested``;
- photoreal generation and video never for a person marked as a minor.

A request may be held to some grants only (``within``): an app's token rests on the grants
its approval signed, and its requests are decided on those alone, so revoking one of them
stops the token's work even where another approval gave the app another grant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from likeness import clock
from likeness.consent import audit
from likeness.consent.grants import OWNER, ConsentGrant, Scope, Trust, grants_for
from likeness.errors import RefusedError
from likeness.people.tables import Person
from likeness.store import Library


class Action(StrEnum):
    TRAIN_ADAPTER = "train-adapter"
    GENERATE_STYLIZED = "generate-stylized"
    GENERATE_PHOTOREAL = "generate-photoreal"
    EXPORT_ADAPTER = "export-adapter"
    GENERATE_VIDEO = "generate-video"

    @property
    def scope(self) -> Scope:
        return Scope(self.value)


class ModelKind(StrEnum):
    #: Built-in tiny models with random weights: they cannot depict anyone recognisably.
    TINY = "tiny"
    #: A real pretrained generator.
    REAL = "real"


_GATE = object()  # only authorize() holds this; Decision refuses to be made without it


class GateError(RefusedError):
    """Work was attempted without an allowing Decision from ``authorize``."""


class ConsentWithdrawnError(GateError):
    """An allowing Decision no longer holds (revoked, expired, person merged or now a minor):
    the work under way must stop and keep nothing it made for the people involved."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    action: Action
    subjects: tuple[int, ...]
    requester: str
    model: ModelKind
    reason: str
    grant_ids: tuple[str, ...]
    decided_at: datetime
    audit_seq: int
    #: The grants this request was held to (None: any grant of the requester).
    within: tuple[str, ...] | None = None
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _GATE:
            raise GateError("a Decision can only come from likeness.consent.policy.authorize")

    def raise_if_denied(self, work: str) -> Decision:
        """This Decision if it allows; else ``GateError`` "``work`` refused: reason" (what
        every front end answers a refusal with: exit 4, HTTP 403)."""
        if not self.allowed:
            raise GateError(f"{work} refused: {self.reason}")
        return self

    def require(
        self,
        action: Action,
        subjects: list[int] | tuple[int, ...],
        model: ModelKind | None = None,
    ) -> None:
        """For the functions that do the work: raise unless this allows exactly this, and
        (given the kind of model the work will use) unless it allows that kind: a Decision
        made for the built-in tiny models does not cover a real one."""
        if not self.allowed:
            raise GateError(f"not allowed: {self.reason}")
        if action != self.action or tuple(sorted(set(subjects))) != self.subjects:
            raise GateError("this Decision was made for a different action or people")
        if model is not None and self.model == ModelKind.TINY and model != ModelKind.TINY:
            raise GateError("this Decision allows the built-in tiny models only, not a real one")

    def check_in_force(self, lib: Library, now: datetime | None = None) -> None:
        """For long work, before each step: raise ``ConsentWithdrawnError`` (and record that the
        work stopped) unless the same request would still be allowed now."""
        if not self.allowed:
            raise GateError(f"not allowed: {self.reason}")
        allowed, reason, _ = _decide(
            lib, self.action, self.subjects, self.requester, self.model, now, self.within
        )
        if allowed:
            return
        with lib.session() as s:
            audit.append(
                lib,
                s,
                "withdrawn",
                {"decision": self.audit_seq, "action": str(self.action), "reason": reason},
            )
        raise ConsentWithdrawnError(f"consent no longer holds: {reason}")


def _grant_serves(
    grant: ConsentGrant,
    action: Action,
    requester: str,
    model: ModelKind,
    at: datetime,
    within: Collection[str] | None = None,
) -> bool:
    if within is not None and grant.id not in within:
        return False
    if not grant.in_force(at) or grant.grantee != requester or action.scope not in grant.scopes:
        return False
    return grant.trust == Trust.VERIFIED or model == ModelKind.TINY


def _decide(
    lib: Library,
    action: Action,
    people: tuple[int, ...],
    requester: str,
    model: ModelKind,
    now: datetime | None,
    within: Collection[str] | None = None,
) -> tuple[bool, str, list[str]]:
    """(allowed, reason, ids of the grants that allow it) under the rules of this module."""
    now = clock.now(now)
    used: list[str] = []
    reason = "every person involved has a grant in force for this"
    allowed = True
    if not people:
        if action in (Action.TRAIN_ADAPTER, Action.EXPORT_ADAPTER):
            allowed, reason = False, f"{action} needs the person it is for"
        else:  # a picture of no one uses no one's likeness (the output gate still checks faces)
            reason = "no person involved"
    for person_id in people:
        with lib.session() as s:
            person = s.get(Person, person_id)
            uid, minor, never = (
                (person.uid, person.is_minor, person.do_not_generate)
                if person
                else (None, False, False)
            )
        if uid is None:
            allowed, reason = False, f"person {person_id} does not exist"
            break
        if never:
            allowed, reason = False, f"person {person_id} asked never to be generated"
            break
        if minor and action == Action.GENERATE_PHOTOREAL:
            allowed, reason = False, f"person {person_id} is a minor: never photoreal"
            break
        if minor and action == Action.GENERATE_VIDEO:
            allowed, reason = False, f"person {person_id} is a minor: never in a video"
            break
        grant = next(
            (
                g
                for g in grants_for(lib, uid)
                if _grant_serves(g, action, requester, model, now, within)
            ),
            None,
        )
        if grant is None:
            allowed = False
            reason = f"person {person_id} has no grant in force for {action} by {requester}" + (
                " with a real model (attested grants drive only the tiny test models)"
                if model == ModelKind.REAL
                else ""
            )
            break
        used.append(grant.id)
    return allowed, reason, used


def is_covered(
    lib: Library,
    action: Action | str,
    person_id: int,
    requester: str = OWNER,
    model: ModelKind | str = ModelKind.REAL,
    within: Collection[str] | None = None,
) -> bool:
    """Whether ``authorize`` would allow this person for this use now. A question, not a
    permission: it makes no Decision and records nothing. The output safety gate asks it for
    every library person whose face it finds in an image."""
    allowed, _, _ = _decide(
        lib, Action(action), (person_id,), requester, ModelKind(model), None, within
    )
    return allowed


def authorize(
    lib: Library,
    action: Action | str,
    subjects: list[int] | tuple[int, ...],
    requester: str = OWNER,
    model: ModelKind | str = ModelKind.REAL,
    now: datetime | None = None,
    within: Collection[str] | None = None,
) -> Decision:
    """Decide, record the decision in the audit log, and return it. ``within``: the only
    grants that may allow it (an app's token's)."""
    action, model = Action(action), ModelKind(model)
    now = clock.now(now)
    people = tuple(sorted(set(subjects)))
    within = tuple(within) if within is not None else None
    allowed, reason, used = _decide(lib, action, people, requester, model, now, within)
    with lib.session() as s:
        seq = audit.append(
            lib,
            s,
            "decision",
            {
                "allowed": allowed,
                "action": str(action),
                "subjects": list(people),
                "requester": requester,
                "model": str(model),
                "grants": used if allowed else [],
                "reason": reason,
                **({"within": list(within)} if within is not None else {}),
            },
        )
    return Decision(
        allowed,
        action,
        people,
        requester,
        model,
        reason,
        tuple(used) if allowed else (),
        now,
        seq,
        within,
        _token=_GATE,
    )
