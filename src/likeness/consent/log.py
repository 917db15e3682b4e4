"""The audit log as the library's owner reads it: each entry in a sentence, with filters.

The log keeps ids and hashes only (``consent.audit``); this puts names to them for the
owner, who named the people in the first place (a person's own page reads the entries about
them through ``consent.activity``, which names no one else). Each line keeps its raw entry,
so the page can show it one click away, and the people it concerns, so it can be filtered:
by person, by kind, and by who asked (the owner, a person, an app).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from likeness.consent import audit
from likeness.consent.grants import Scope
from likeness.people.tables import Person
from likeness.store import Library

#: Kinds of entry, in words (the filter's choices), for the kinds the library writes.
KINDS = {
    "decision": "the gate's decisions",
    "safety": "images checked before release",
    "withdrawn": "work stopped by a withdrawal",
    "grant": "permissions signed",
    "revoke": "permissions withdrawn",
    "enrolment-session": "live checks started",
    "enrolment": "live check results",
    "invite": "invitations",
    "invite-revoke": "invitations withdrawn",
    "invite-open": "invitations opened",
    "passkey": "passkeys made",
    "passkey-remove": "passkeys removed",
    "person-sign-in": "people signing in",
    "grant-request": "permissions asked of people",
    "grant-request-answer": "answers to asked permissions",
    "guardian": "guardians named",
    "guardian-request": "permissions waiting for a guardian",
    "guardian-answer": "guardians' answers",
    "erase": "erasures",
    "erase-template": "refusal templates erased",
    "person-export": "data exports",
    "adapter-delete": "adapters deleted",
    "app-registered": "apps registered",
    "app-revoked": "apps revoked",
    "app-token": "tokens given to apps",
    "app-code-replayed": "replayed app codes",
}


@dataclass(frozen=True)
class LogLine:
    seq: int
    at: datetime
    kind: str
    words: str
    #: Who acted or asked, as ``audit`` names them ("owner", "person:<uid>", "app:<id>"),
    #: or "" where the library itself wrote the entry.
    requester: str
    #: The people (ids) the entry concerns, those still in the library.
    people: tuple[int, ...]
    payload: dict


class _Names:
    """People's names by id and by uid; apps' by id."""

    def __init__(self, lib: Library, apps: Mapping[str, str]) -> None:
        with lib.session() as s:
            rows = s.execute(select(Person.id, Person.uid, Person.name)).all()
        self.by_id = {pid: name or f"person {pid}" for pid, _, name in rows}
        self.id_of_uid = {uid: pid for pid, uid, _ in rows}
        self.apps = apps

    def person(self, uid: str | None) -> str:
        pid = self.id_of_uid.get(uid or "")
        return self.by_id[pid] if pid is not None else "a deleted person"

    def people(self, ids: list[int]) -> str:
        named = [self.by_id.get(i, "a deleted person") for i in ids]
        if not named:
            return "no one known"
        return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]

    def app(self, app_id: str) -> str:
        return f"the app {self.apps[app_id]!r}" if app_id in self.apps else f"app {app_id[:8]}"

    def actor(self, by: str | None) -> str:
        """Who acted, as the owner reads it."""
        if not by or by == audit.OWNER:
            return "You"
        if by.startswith("person:"):
            return self.person(by.removeprefix("person:"))
        if by.startswith("app:"):
            return self.app(by.removeprefix("app:")).capitalize()
        return by


def _scopes(scopes: list[str]) -> str:
    words = [Scope(s).words if s in Scope._value2member_map_ else s for s in scopes]
    return " and ".join(words)


def _sentence(kind: str, p: dict, names: _Names, asked: dict[int, str]) -> str:
    """One entry in words."""
    who = names.person(p.get("subject"))
    by = names.actor(p.get("by"))
    grantee = p.get("grantee")
    to = "you" if grantee in (None, audit.OWNER) else names.actor(grantee)
    if kind == "decision":
        action = Scope(p["action"]).words if p.get("action") in Scope._value2member_map_ else ""
        outcome = "allowed" if p.get("allowed") else f"refused: {p.get('reason', '')}"
        subjects = names.people(p.get("subjects", []))
        return (
            f"{names.actor(p.get('requester'))} asked to {action or p.get('action', '')} "
            f"({subjects}, on {p.get('model', 'a model')}): {outcome}"
        )
    if kind == "safety":
        shown = names.people(p.get("faces", []))
        outcome = "released" if p.get("allowed") else f"refused and not written ({p.get('reason')})"
        asker = asked.get(p.get("decision", -1))
        if asker is None:
            return f"An image showing {shown} was {outcome}"
        made = "you" if asker in ("", audit.OWNER) else names.actor(asker)
        return f"An image showing {shown} was {outcome}, made for {made}"
    sentences = {
        "withdrawn": f"Work under decision {p.get('decision')} stopped: {p.get('reason', '')}",
        "grant": f"{by} signed a permission of {who}: {to} may "
        f"{_scopes(p.get('scopes', []))} ({p.get('trust', '')})",
        "revoke": f"{by} withdrew permission {str(p.get('grant', ''))[:8]} of {who}"
        + (" and destroyed their adapters' key" if p.get("key_destroyed") else ""),
        "enrolment-session": f"A live check of {who} started"
        if p.get("live")
        else f"A challenge for a recording of {who} was drawn",
        "enrolment": f"{who}'s live check {'passed' if p.get('passed') else 'did not pass'}",
        "invite": f"{by} invited {who} to consent for themselves",
        "invite-revoke": f"{by} withdrew an invitation to {who} before it was opened",
        "invite-open": f"{who} opened their invitation",
        "passkey": f"{who} added a passkey"
        if p.get("added")
        else f"{who} made a passkey and an account",
        "passkey-remove": f"{who} removed a passkey",
        "person-sign-in": f"{who} signed in with a passkey",
        "grant-request": f"{by} asked {who} to let {to} {_scopes(p.get('scopes', []))}",
        "grant-request-answer": f"{who} {'approved' if p.get('approved') else 'denied'} "
        f"a request of {to}",
        "guardian": f"{by} named {names.person(p.get('guardian'))} as {who}'s guardian"
        if p.get("guardian")
        else f"{by} removed {who}'s guardian",
        "guardian-request": f"{who} gave a permission that waits for their guardian: "
        f"{_scopes(p.get('scopes', []))}",
        "guardian-answer": f"{who}'s guardian {'approved' if p.get('approved') else 'denied'} "
        "a permission",
        "erase": f"{by} erased {who}'s biometric data ({p.get('faces', 0)} face records, "
        f"{p.get('enrolments', 0)} live checks, {p.get('grants', 0)} permissions withdrawn)",
        "erase-template": f"{by} erased the salted template kept to refuse {who}'s face",
        "person-export": f"{by} exported {who}'s data ({p.get('faces', 0)} face crops)",
        "adapter-delete": f"{by} deleted adapter {str(p.get('adapter', ''))[:8]} of {who}",
        "app-registered": f"{names.app(p.get('app', '')).capitalize()} was registered",
        "app-revoked": f"{names.app(p.get('app', '')).capitalize()} was revoked: its tokens "
        "and permissions stopped",
        "app-token": f"{names.app(p.get('app', '')).capitalize()} was given a token for "
        f"{names.people(p.get('people', []))}",
        "app-code-replayed": f"A code of {names.app(p.get('app', ''))} was used twice: "
        "refused, and every token from it revoked",
    }
    return sentences.get(kind, kind.replace("-", " ").capitalize())


def _requester(kind: str, p: dict, asked: dict[int, str]) -> str:
    if kind == "decision":
        return p.get("requester") or ""
    if kind in ("safety", "withdrawn"):
        return asked.get(p.get("decision", -1), "")
    if kind.startswith("app-"):
        return f"app:{p.get('app', '')}"
    return p.get("by") or ""


def _people(p: dict, names: _Names) -> tuple[int, ...]:
    ids = [names.id_of_uid.get(p.get("subject") or "")]
    ids += p.get("subjects", []) + p.get("faces", []) + p.get("people", [])
    return tuple(dict.fromkeys(i for i in ids if i is not None and i in names.by_id))


def audit_log(
    lib: Library,
    person: int | None = None,
    kind: str | None = None,
    requester: str | None = None,
    limit: int = 100,
    apps: Mapping[str, str] | None = None,
) -> list[LogLine]:
    """The newest ``limit`` entries in sentences, newest first: those about ``person``, of
    ``kind``, asked by ``requester`` (``"owner"``, ``"person:<uid>"``, ``"app:<id>"``) when
    given. ``apps``: apps' names by id (apps sit above this room)."""
    names = _Names(lib, apps or {})
    entries = audit.list_audit(lib)
    asked = {
        e["seq"]: e["payload"].get("requester", "") for e in entries if e["kind"] == "decision"
    }
    lines = []
    for e in reversed(entries):
        p = e["payload"]
        if kind and e["kind"] != kind:
            continue
        who = _requester(e["kind"], p, asked)
        if requester and who != requester:
            continue
        people = _people(p, names)
        if person is not None and person not in people:
            continue
        words = _sentence(e["kind"], p, names, asked)
        lines.append(
            LogLine(e["seq"], datetime.fromisoformat(e["at"]), e["kind"], words, who, people, p)
        )
        if len(lines) >= limit:
            break
    return lines
