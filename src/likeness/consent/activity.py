"""A person's activity: every audit entry about them, in words, for their own page.

The audit log keeps ids and hashes only (``consent.audit``). This reads the entries that
concern one person (by their uid: grants, revocations, invitations, enrolments, passkeys,
sign-ins; by their id: the gate's decisions and the safety gate's verdicts on images that
showed them or were asked of them) and says each in a sentence, with who asked. An entry
that also concerned other people says how many, never who, and its reason is left out unless
it is about this person alone: the reasons name people by id, and a person's page shows
nothing of anyone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from likeness.consent import audit
from likeness.people.records import get_person
from likeness.store import Library

_SCOPES = {
    "train-adapter": "train an adapter on your photos",
    "generate-stylized": "generate stylized images of you",
    "generate-photoreal": "generate photoreal images of you",
    "generate-video": "generate video clips of you",
    "export-adapter": "export your adapter",
}


@dataclass(frozen=True)
class ActivityItem:
    seq: int
    at: datetime
    kind: str
    words: str
    #: Who acted or asked: "the library's owner", "you", "the app <id>", or "" (the system).
    actor: str
    #: For an image the safety gate judged: the SHA-256 of its pixels.
    image: str | None = None
    #: For an image released and stamped: its Content Credentials, as ``likeness provenance
    #: verify`` finds a copy by (``{"watermark": hex id, "file_sha256": ...}``; filled in by
    #: ``workflows.person_activity``: provenance sits above this room).
    provenance: dict | None = None

    def as_json(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "words": self.words,
            "actor": self.actor,
            "image": self.image,
            "provenance": self.provenance,
        }


def _actor(by: str | None, uid: str, apps: Mapping[str, str]) -> str:
    """Who ``by`` is, as the person reads it (``apps``: app names by id)."""
    if by is None or by == audit.OWNER:
        return "the library's owner"
    if by == audit.person_actor(uid):
        return "you"
    if by.startswith("app:"):
        return _app(by.removeprefix("app:"), apps)
    return "someone else"


def _app(app_id: str, apps: Mapping[str, str]) -> str:
    return f"the app {apps[app_id]!r}" if app_id in apps else f"the app {app_id[:8]}"


def _others(count: int) -> str:
    return "" if count == 0 else f" and {count} other {'person' if count == 1 else 'people'}"


def _words(
    kind: str,
    p: dict,
    uid: str,
    person_id: int,
    decisions: dict[int, tuple[str, list[int]]],
    apps: Mapping[str, str],
) -> tuple[str, str, str | None] | None:
    """(words, actor, image) of one entry about this person; None if it is not about them.
    ``decisions``: who asked each decision and for whom (by audit seq): a safety verdict is
    about the person when it judged an image showing them, or one asked of them."""
    by = _actor(p.get("by"), uid, apps)
    if p.get("subject") == uid:
        scopes = " and ".join(_SCOPES.get(x, x) for x in p.get("scopes", []))
        grantee = _actor(p.get("grantee"), uid, apps)
        simple = {
            "invite": ("invited you to consent for yourself", by),
            "invite-revoke": ("withdrew an invitation before it was opened", by),
            "invite-open": ("opened your invitation", "you"),
            "passkey": (
                "added a passkey" if p.get("added") else "made a passkey and an account here",
                "you",
            ),
            "passkey-remove": ("removed a passkey", "you"),
            "person-sign-in": ("signed in with a passkey", "you"),
            "enrolment-session": (
                "started a live check" if p.get("live") else "drew a challenge for a recording",
                "",
            ),
            "enrolment": (
                "live check passed" if p.get("passed") else "live check did not pass",
                "",
            ),
            "erase": (
                f"erased your biometric data ({p.get('faces', 0)} face records, "
                f"{p.get('enrolments', 0)} live checks; {p.get('grants', 0)} permissions "
                "withdrawn) and marked you never to be generated",
                by,
            ),
            "grant-request": (
                f"asked you to let the library's owner {scopes}"
                if p.get("grantee") == audit.OWNER
                else f"sent on to you a request of {grantee} to {scopes}",
                by,
            ),
            "grant-request-answer": (
                f"{'approved' if p.get('approved') else 'denied'} the request of {grantee}",
                "you",
            ),
            "guardian": (
                "named your guardian" if p.get("guardian") else "removed your guardian",
                by,
            ),
            "guardian-request": (f"asked your guardian to approve: {scopes}", "you"),
            "guardian-answer": (
                f"{'approved' if p.get('approved') else 'denied'} a permission you gave",
                "your guardian",
            ),
            "erase-template": ("erased the salted template kept to refuse your face", by),
            "person-export": (f"exported your data ({p.get('faces', 0)} face crops)", by),
            "adapter-delete": (f"deleted adapter {str(p.get('adapter', ''))[:8]}", by),
            "grant": (
                f"signed a permission for {grantee} to {scopes} ({p.get('trust', '')})",
                by,
            ),
            "revoke": (
                f"withdrew permission {str(p.get('grant', ''))[:8]}"
                + (" and destroyed your adapters' key" if p.get("key_destroyed") else ""),
                by,
            ),
        }
        if kind in simple:
            words, actor = simple[kind]
            return words, actor, None
        return None
    if kind == "decision" and person_id in p.get("subjects", []):
        others = len(p["subjects"]) - 1
        action = _SCOPES.get(p.get("action", ""), p.get("action", ""))  # actions are scopes
        outcome = "allowed" if p.get("allowed") else "refused"
        reason = f": {p.get('reason', '')}" if others == 0 and not p.get("allowed") else ""
        asked = f"asked to {action}{_others(others)}: {outcome}{reason}"
        return asked, _actor(p.get("requester"), uid, apps), None
    asked = decisions.get(p.get("decision", -1)) if kind == "safety" else None
    about_them = asked is not None and person_id in asked[1]
    if kind == "safety" and (person_id in p.get("faces", []) or about_them):
        shown = person_id in p.get("faces", [])
        others = len((set(p["faces"]) | set(asked[1] if asked else ())) - {person_id})
        outcome = "released" if p.get("allowed") else "refused and not written"
        reason = f" ({p.get('reason', '')})" if others == 0 and not p.get("allowed") else ""
        what = "an image showing you" if shown else "an image asked of you"
        words = f"{what}{_others(others)} was {outcome}{reason}"
        if asked is not None:
            asker = _actor(asked[0], uid, apps)
            words = f"{words}, made for {'yourself' if asker == 'you' else asker}"
        return words, "", p.get("image")
    return None


def activity(
    lib: Library, person_id: int, limit: int = 200, apps: Mapping[str, str] | None = None
) -> list[ActivityItem]:
    """What happened about this person, newest first (at most ``limit`` items); ``apps``:
    the names of apps by id (``workflows.person_activity`` passes them: apps sit above this
    room), else apps are named by id."""
    apps = apps or {}
    with lib.session() as s:
        uid = get_person(s, person_id).uid
    entries = audit.list_audit(lib)
    decisions = {
        e["seq"]: (e["payload"].get("requester", ""), e["payload"].get("subjects", []))
        for e in entries
        if e["kind"] == "decision"
    }
    items = []
    for entry in reversed(entries):
        said = _words(entry["kind"], entry["payload"], uid, person_id, decisions, apps)
        if said is None:
            continue
        words, actor, image = said
        at = datetime.fromisoformat(entry["at"])
        items.append(ActivityItem(entry["seq"], at, entry["kind"], words, actor, image))
        if len(items) >= limit:
            break
    return items
