"""An app's request about a person who consents for themselves goes to that person.

The owner's approval of an app covers only people without an account (``server.oauth``
offers no one else). For a person with an account there are two ways in, both ending in a
grant to ``app:<id>`` that the person signs (``by = person_actor(uid)``):

- the person is there: they open the app's authorization link signed in with their passkey
  and answer it themselves (``approve_for_self``);
- the owner is there: on the approval page they send the request on (``ask_person``); it
  waits on the person's page (``consent.requests``, beside the owner's own requests) until
  they approve or deny it, and the app is told to ask again. When it does, the owner's
  approval may include that person by the grant the person signed (``self_signed_grant``),
  never by signing one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from likeness import clock
from likeness.apps.registry import APP_SCOPES, AppError, app_scopes, get_app
from likeness.apps.requester import Requester
from likeness.consent.grants import Scope, grants_for
from likeness.consent.requests import (
    GrantRequestError,
    GrantRequestInfo,
    check_person,
    request_grant,
    sign_for_self,
)
from likeness.consent.tables import PersonAccount
from likeness.people.records import get_person
from likeness.store import Library


def can_be_asked(s: Session, person_id: int) -> None:
    """``AppError`` unless an app may ask this person (an account; not a minor; not erased)."""
    try:
        check_person(s, person_id)
    except GrantRequestError as error:
        raise AppError(str(error)) from None


def check_app_request(lib: Library, app_id: str, scopes: list[str], days: int) -> list[str]:
    """The scopes of a request of this app, if it may still make one (``AppError``)."""
    from likeness.apps.registry import MAX_APPROVAL_DAYS

    if get_app(lib, app_id).revoked_at is not None:
        raise AppError(f"app {app_id} is revoked")
    if not 1 <= days <= MAX_APPROVAL_DAYS:
        raise AppError(f"an app's grant lasts 1 to {MAX_APPROVAL_DAYS} days")
    return app_scopes(" ".join(scopes))


def ask_person(
    lib: Library, app_id: str, person_id: int, scopes: list[str], days: int
) -> GrantRequestInfo:
    """Send an app's request on to a person with an account (the owner, on the approval
    page). One pending request per app and person: asking again renews it."""
    scopes = check_app_request(lib, app_id, scopes, days)
    with lib.session() as s:
        can_be_asked(s, person_id)
    return request_grant(lib, person_id, Requester.app(app_id), scopes, days)


def answer_check(lib: Library) -> Callable[[GrantRequestInfo], None]:
    """The check ``answer_grant_request`` runs before signing an answer to an app's request:
    the app is still registered and not revoked."""

    def check(request: GrantRequestInfo) -> None:
        app_id = Requester(request.grantee).app_id
        if app_id is not None:
            check_app_request(lib, app_id, list(request.scopes), request.days or 1)

    return check


def approve_for_self(
    lib: Library,
    app_id: str,
    person_id: int,
    scopes: list[str],
    days: int,
    enrolment_id: str | None = None,
) -> str:
    """A person, signed in at the app's authorization link, approves it for themselves: the
    grant they sign (its id: the app's code rests on it)."""
    scopes = check_app_request(lib, app_id, scopes, days)
    with lib.session() as s:
        can_be_asked(s, person_id)
    return sign_for_self(lib, person_id, Requester.app(app_id), scopes, days, enrolment_id).id


def self_signed_grant(lib: Library, app_id: str, person_id: int, scopes: list[str]) -> str | None:
    """The grant in force a person with an account signed to this app covering every one of
    ``scopes`` (the latest), which an approval may rest on for them; None if there is none.
    A grant signed before they had an account was the owner's: it does not count."""
    now = clock.now()
    with lib.session() as s:
        person = get_person(s, person_id)
        account = s.get(PersonAccount, person.uid)
        if account is None or person.do_not_generate or person.is_minor:
            return None
        since = account.created_at
        uid = person.uid
    wanted = {Scope(x) for x in scopes if x in APP_SCOPES}
    found = [
        g
        for g in grants_for(lib, uid)
        if g.grantee == Requester.app(app_id)
        and g.in_force(now)
        and g.issued_at >= since
        and wanted <= set(g.scopes)
    ]
    return max(found, key=lambda g: g.issued_at).id if found else None
