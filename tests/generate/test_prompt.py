"""@mentions resolve to people or fail with the candidates listed."""

import pytest

from likeness.generate.prompt import MentionError, mention_form, parse_prompt
from likeness.people.manage import name_person, set_owner
from likeness.people.tables import Person


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


def test_names_with_punctuation_are_mentioned_in_their_one_mention_form(lib):
    """The form completion offers is the form parsing reads: apostrophes, hyphens, dots and
    spaces become one ``_`` each run; letters of any script stay."""
    mary, jr, zoe, emoji = _people(lib, "Mary-Kate O'Brien", "J.R. Smith", "Zoë", "🙂")
    assert mention_form("Mary-Kate O'Brien") == "mary_kate_o_brien"
    assert mention_form("🙂") == ""  # no letter or digit: mentioned by id
    parsed = parse_prompt(lib, "@mary_kate_o_brien, @j_r_smith and @Zoë at the fair")
    assert parsed.people == [mary, jr, zoe]
    assert parse_prompt(lib, "@mary-kate_o-brien").people == [mary]
    assert parse_prompt(lib, f"@{emoji} waves").people == [emoji]


def test_a_prompt_read_among_some_people_names_no_one_else(lib):
    alice, grace, bob = _people(lib, "Alice", "Grace Hopper", "Bob")
    set_owner(lib, alice)
    assert parse_prompt(lib, "@grace_hopper", among=[grace]).people == [grace]
    for prompt in ("@alice", "@me", f"@{bob}", "@bob", "@nobody"):
        with pytest.raises(MentionError) as refused:
            parse_prompt(lib, prompt, among=[grace])
        listing = str(refused.value).partition(":")[2]
        assert "names no one" in str(refused.value)
        assert "alice" not in listing and "bob" not in listing, listing
        assert f"@grace_hopper ({grace})" in listing


def test_a_digit_that_is_no_number_names_no_one(lib):
    _people(lib, "Alice")
    for prompt in ("@\u00b2 on a hill", "@\u2460", "@1\u00b9", "@" + "9" * 5000):
        with pytest.raises(MentionError, match="names no one"):
            parse_prompt(lib, prompt)
