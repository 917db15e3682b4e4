"""Apps' requests sent on to a person with an account: answered once, by them only, and
never for someone who cannot be asked (a minor, a person erased)."""

from __future__ import annotations

import pytest

from likeness.apps import requests as app_requests
from likeness.apps.registry import AppError, register_app
from likeness.consent import requests
from likeness.consent.audit import list_audit
from likeness.consent.grants import GrantError, list_grants
from likeness.consent.tables import PersonAccount
from likeness.people.manage import ConsentsForSelfError, set_minor
from likeness.people.records import get_person
from likeness.testing.libraries import copy_home
from likeness.workflows import erase


def _give_an_account(lib, person: int) -> str:
    """The row a registered passkey leaves (``consent.accounts``; the passkey itself is
    tested in tests/server/test_people_accounts.py)."""
    with lib.session() as s:
        found = get_person(s, person)
        found.consents_for_self = True
        s.add(
            PersonAccount(
                person_uid=found.uid,
                user_handle=found.uid.encode()[:16],
                created_at=found.created_at,
                invitation_id="0" * 32,
            )
        )
        return found.uid


@pytest.fixture
def world(two_people_home, tmp_path):
    home, alice, grace = two_people_home
    lib = copy_home(home, tmp_path / "home")
    _give_an_account(lib, alice)
    app = register_app(lib, "Postcards", "http://127.0.0.1:9999/callback")
    yield lib, alice, grace, app.id
    lib.close()


def test_a_request_is_answered_once_even_when_two_answers_race(world, monkeypatch):
    lib, alice, _, app_id = world
    request = app_requests.ask_person(lib, app_id, alice, ["generate-stylized"], 30)
    sign = requests.sign_for_self
    raced = []

    def second_answer_while_the_first_signs(*args, **kwargs):
        if not raced:
            raced.append(1)
            with pytest.raises(requests.GrantRequestNotFoundError):
                requests.answer_grant_request(lib, request.id, alice, True)
        return sign(*args, **kwargs)

    monkeypatch.setattr(requests, "sign_for_self", second_answer_while_the_first_signs)
    answered = requests.answer_grant_request(lib, request.id, alice, True)
    assert answered.answer == "approved" and raced
    to_app = [g for g, _ in list_grants(lib, alice) if g.grantee == f"app:{app_id}"]
    assert [g.id for g in to_app] == [answered.grant_id]
    assert sum(e["kind"] == "grant-request-answer" for e in list_audit(lib)) == 1


def test_a_request_that_cannot_be_signed_stays_open(world):
    lib, alice, _, app_id = world
    request = app_requests.ask_person(lib, app_id, alice, ["generate-stylized"], 30)
    with pytest.raises(GrantError):  # an enrolment that does not exist: nothing signed
        requests.answer_grant_request(lib, request.id, alice, True, enrolment_id="f" * 32)
    assert [r.id for r in requests.pending_grant_requests(lib, alice)] == [request.id]
    assert requests.answer_grant_request(lib, request.id, alice, False).answer == "denied"


def test_no_one_is_asked_who_cannot_answer(world):
    lib, alice, grace, app_id = world
    with pytest.raises(AppError, match="no account"):
        app_requests.ask_person(lib, app_id, grace, ["generate-stylized"], 30)
    pending = app_requests.ask_person(lib, app_id, alice, ["generate-stylized"], 30)
    # An erasure closes what waits for her, and no app may ask for her again.
    erase(lib, alice, by=f"person:{_uid(lib, alice)}")
    assert requests.pending_grant_requests(lib, alice) == []
    with pytest.raises(requests.GrantRequestNotFoundError):
        requests.answer_grant_request(lib, pending.id, alice, True)
    with pytest.raises(AppError, match="never to be generated"):
        app_requests.ask_person(lib, app_id, alice, ["generate-stylized"], 30)


def test_a_minor_with_an_account_stays_marked(world):
    lib, alice, _, _ = world
    set_minor(lib, alice, True)
    with pytest.raises(ConsentsForSelfError):
        set_minor(lib, alice, False)  # their guardian's approval would be bypassed


def _uid(lib, person: int) -> str:
    with lib.session() as s:
        return get_person(s, person).uid


def test_a_guardian_is_someone_with_an_account_other_than_the_minor(world):
    from likeness.consent.guardians import GuardianError, name_guardian

    lib, alice, grace, _ = world
    with pytest.raises(GuardianError, match="not marked as a minor"):
        name_guardian(lib, grace, alice)
    set_minor(lib, grace, True)
    with pytest.raises(GuardianError, match="own guardian"):
        name_guardian(lib, grace, grace)
    set_minor(lib, alice, True)
    with pytest.raises(GuardianError, match="no account"):
        name_guardian(lib, alice, grace)  # Grace has no account
    with pytest.raises(GuardianError, match="cannot be a guardian"):
        name_guardian(lib, grace, alice)  # Alice, now a minor herself


def test_a_person_erased_is_not_offered_to_apps(world):
    from likeness.apps.registry import check_approval
    from likeness.server.oauth import offered_people

    lib, _, grace, app_id = world
    assert grace in {p.id for p in offered_people(lib)}
    erase(lib, grace)  # by the owner: she has no account
    assert grace not in {p.id for p in offered_people(lib)}
    with pytest.raises(AppError, match="never to be generated"):
        check_approval(lib, app_id, [grace], ["generate-stylized"], 30)


def test_the_owner_asks_a_person_with_an_account_and_cannot_sign_for_them(world):
    from likeness.consent.grants import NotYoursToSignError, Scope, Trust, issue_grant

    lib, alice, grace, _ = world
    with pytest.raises(NotYoursToSignError, match="consent request"):
        issue_grant(lib, alice, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    with pytest.raises(requests.GrantRequestError, match="no account"):
        requests.request_grant(lib, grace, "owner", ["train-adapter"], None)
    asked = requests.request_grant(lib, alice, "owner", ["train-adapter"], None)
    again = requests.request_grant(lib, alice, "owner", ["train-adapter", "export-adapter"], 30)
    assert again.id == asked.id and again.days == 30  # renewed, not doubled
    answered = requests.answer_grant_request(lib, asked.id, alice, True)
    [(grant, _)] = [(g, p) for g, p in list_grants(lib, alice) if g.id == answered.grant_id]
    assert grant.grantee == "owner" and grant.trust == "attested"
    assert sorted(grant.scopes) == ["export-adapter", "train-adapter"]
    signed = next(e for e in list_audit(lib) if e["payload"].get("grant") == grant.id)
    assert signed["payload"]["by"] == f"person:{_uid(lib, alice)}"


def test_a_revoked_apps_requests_lapse_and_cannot_be_signed(world):
    from likeness.apps.registry import revoke_app

    lib, alice, _, app_id = world
    asked = app_requests.ask_person(lib, app_id, alice, ["generate-stylized"], 30)
    check = app_requests.answer_check(lib)
    check(asked)  # the app may still be given it
    revoke_app(lib, app_id)
    with pytest.raises(AppError, match="revoked"):
        check(asked)  # what an answer racing the revocation runs before signing
    assert requests.pending_grant_requests(lib, alice) == []
    with pytest.raises(requests.GrantRequestNotFoundError):
        requests.answer_grant_request(lib, asked.id, alice, True, still_valid=check)
    assert not [g for g, _ in list_grants(lib, alice) if g.grantee == f"app:{app_id}"]


def test_a_request_names_the_owner_or_an_app_and_waits_for_no_minor(world):
    lib, alice, _, _ = world
    with pytest.raises(requests.GrantRequestError, match="the owner or an app"):
        requests.request_grant(lib, alice, "someone", ["train-adapter"], None)
    asked = requests.request_grant(lib, alice, "owner", ["train-adapter"], None)
    set_minor(lib, alice, True)  # marked a minor since: nothing to answer, nothing signed
    assert requests.pending_grant_requests(lib, alice) == []
    with pytest.raises(requests.GrantRequestError, match="minor"):
        requests.answer_grant_request(lib, asked.id, alice, True)
    assert not list_grants(lib, alice)
