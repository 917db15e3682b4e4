"""@mentions resolve to people or fail with the candidates listed."""

import pytest

from likeness.generate.prompt import MentionError, parse_prompt
from likeness.people.manage import name_person, set_owner
from likeness.store.models import Person


def _people(lib, *names):
    from datetime import datetime

    with lib.session() as s:
        rows = [Person(name=n, created_at=datetime(2026, 1, 1)) for n in names]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def test_mentions_by_name_id_and_me(lib):
    alice, grace, _ = _people(lib, "Alice", "Grace Hopper", None)
    set_owner(lib, grace)
    parsed = parse_prompt(lib, f"@ALICE and @grace_hopper and @me, with @{alice}.")
    assert [m.person_id for m in parsed.mentions] == [alice, grace, grace, alice]
    assert parsed.people == [alice, grace]
    text = parsed.text()
    assert "@" not in text and text.endswith(".")
    alice_trigger = parsed.mentions[0].trigger
    assert text.startswith(f"{alice_trigger} person and ")
    region = parsed.text(only=grace)
    assert region.startswith("a person and ") and alice_trigger not in region
    assert parse_prompt(lib, "a quiet lake at dawn").people == []


def test_unknown_and_ambiguous_mentions_list_candidates(lib):
    _people(lib, "Alice", "Alan", "Bob")
    with pytest.raises(MentionError, match=r"@alex names no one; people: @alan \(\d+\), @alice"):
        parse_prompt(lib, "@alex at the beach")
    twins = _people(lib, "Sam", "sam")
    with pytest.raises(MentionError, match=f"use their ids: @{twins[0]}, @{twins[1]}"):
        parse_prompt(lib, "@Sam")
    with pytest.raises(MentionError, match="no one is marked as the owner"):
        parse_prompt(lib, "@me")
    with pytest.raises(MentionError, match="@999 names no one"):
        parse_prompt(lib, "@999")
    name_person(lib, twins[1], "Samantha")
    assert parse_prompt(lib, "@sam").people == [twins[0]]
