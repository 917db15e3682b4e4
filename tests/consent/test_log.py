"""The audit log as the owner reads it (``consent.log``): sentences with names, filters by
person, kind and requester, and the raw entry kept. A real library: SQLite, real grants
signed with the library key, the real gate."""

from __future__ import annotations

import pytest

from likeness.consent.grants import Scope, Trust, issue_grant, revoke_grant
from likeness.consent.log import KINDS, audit_log
from likeness.consent.policy import authorize
from likeness.testing.libraries import copy_home


@pytest.fixture
def lib(two_people_home, tmp_path):
    home, alice, grace = two_people_home
    lib = copy_home(home, tmp_path / "home")
    yield lib, alice, grace
    lib.close()


def test_each_entry_is_a_sentence_naming_the_people(lib):
    lib, alice, grace = lib
    grant = issue_grant(lib, grace, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    assert authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed
    assert not authorize(lib, "train-adapter", [alice, grace], "app:1234abcd", "tiny").allowed
    revoke_grant(lib, grant.id, "changed my mind")
    lines = audit_log(lib)
    assert [line.kind for line in lines[:4]] == ["revoke", "decision", "decision", "grant"]
    revoke, refused, allowed, signed = lines[:4]
    assert signed.words == (
        "You signed a permission of Grace Hopper: you may make images of them in a drawn or "
        "painted style (attested)"
    )
    assert allowed.words.startswith("You asked to make images of them in a drawn or painted")
    assert "(Grace Hopper, on tiny): allowed" in allowed.words
    assert "(Alice and Grace Hopper, on tiny): refused: " in refused.words
    assert refused.words.startswith("App 1234abcd asked to train an adapter")
    assert revoke.words.startswith(f"You withdrew permission {grant.id[:8]} of Grace Hopper")
    # The raw entry stays with its sentence; every kind written has words for the filter.
    assert revoke.payload["grant"] == grant.id
    assert {line.kind for line in lines} <= set(KINDS)


def test_the_log_is_filtered_by_person_kind_and_requester(lib):
    lib, alice, grace = lib
    issue_grant(lib, grace, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    issue_grant(lib, alice, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    authorize(lib, "train-adapter", [alice, grace], "app:1234abcd", "tiny")
    theirs = audit_log(lib, person=alice)
    assert theirs and all(alice in line.people for line in theirs)
    assert {line.kind for line in theirs} == {"grant", "decision"}
    assert [line.kind for line in audit_log(lib, kind="grant")] == ["grant", "grant"]
    [asked] = audit_log(lib, requester="app:1234abcd")
    assert asked.kind == "decision" and set(asked.people) == {alice, grace}
    assert audit_log(lib, person=grace, kind="grant", requester="owner")[0].people == (grace,)
    assert audit_log(lib, kind="erase") == []
    assert len(audit_log(lib, limit=1)) == 1
