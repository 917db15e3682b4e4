"""Prompts with @mentions: ``"@me and @alice at the beach"``.

A mention names a person by name, in its mention form (``mention_form``: lower case, and each
run of spaces, punctuation or ``_``/``-`` written as one ``_``: "Mary-Kate O'Brien" is
``@mary_kate_o_brien``), by id (``@12``), or ``@me`` for the person marked as the library
owner. An unknown or ambiguous mention is an error that lists the candidates. Each mention
becomes the person's trigger word (``lkxxxx person``), which their adapter was trained to draw.

A prompt may be read among some people only (``among``: an app's, whose token covers them):
then no one else can be named, and an error lists only them, so a requester learns nothing of
the library's other people, not even whether an id or a name exists.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from likeness.adapters.curation import trigger_token
from likeness.errors import InvalidError
from likeness.people.records import person_records
from likeness.store import Library

MENTION = re.compile(r"@([\w][\w.\-]*)", re.UNICODE)


class MentionError(InvalidError):
    """A mention that names no one, or more than one person."""


@dataclass(frozen=True)
class Mention:
    text: str  # as written, without the @
    person_id: int
    trigger: str
    start: int
    end: int


@dataclass(frozen=True)
class ParsedPrompt:
    original: str
    mentions: tuple[Mention, ...]

    @property
    def people(self) -> list[int]:
        """The people mentioned, in order of first mention."""
        return list(dict.fromkeys(m.person_id for m in self.mentions))

    def text(self, only: int | None = None) -> str:
        """The prompt for the model: each mention replaced by its person's trigger word. With
        ``only``, the other people's mentions become "a person" (a region's prompt)."""
        out, last = [], 0
        for m in self.mentions:
            out.append(self.original[last : m.start])
            if only is None or m.person_id == only:
                out.append(f"{m.trigger} person")
            else:
                out.append("a person")
            last = m.end
        out.append(self.original[last:])
        return "".join(out)


def mention_form(name: str) -> str:
    """How a name is written after ``@`` (and offered by the web app's completion): lower
    case, each run of characters other than letters and digits as one ``_``, none at the
    ends. "" for a name with no letter or digit (mention such a person by id)."""
    return re.sub(r"[\W_]+", "_", name.casefold()).strip("_")


def parse_prompt(lib: Library, text: str, among: Collection[int] | None = None) -> ParsedPrompt:
    """Resolve the prompt's @mentions to people, or raise ``MentionError``. ``among``: the
    only people who may be named (and listed in an error)."""
    with lib.session() as s:
        people = list(person_records(s, among).values())
    by_id = {p.id: p for p in people}
    mentions = []
    for match in MENTION.finditer(text):
        word = match.group(1).rstrip(".-")
        end = match.start() + 1 + len(word)
        if word.isascii() and word.isdigit():  # "@12"; not "@²", which int() refuses
            found = [by_id[int(word)]] if len(word) <= 19 and int(word) in by_id else []
        elif word.casefold() == "me":
            found = [p for p in people if p.is_owner]
            if not found and among is None:
                raise MentionError(
                    "@me names the library owner, and no one is marked as the owner yet "
                    "(`likeness people me ID`)"
                )
        else:
            key = mention_form(word)
            found = [p for p in people if p.name and key and mention_form(p.name) == key]
        if not found:
            named = sorted((mention_form(p.name), p.id) for p in people if p.name)
            named = [(n, i) for n, i in named if n]
            close = [f"@{n} ({i})" for n, i in named if n[:1] == mention_form(word)[:1]]
            listing = ", ".join(close or [f"@{n} ({i})" for n, i in named]) or "none named"
            who = "people" if among is None else "people you may ask for"
            raise MentionError(f"@{word} names no one; {who}: {listing}")
        if len(found) > 1:
            ids = ", ".join(f"@{p.id}" for p in found)
            raise MentionError(f"@{word} names {len(found)} people; use their ids: {ids}")
        person = found[0]
        mentions.append(Mention(word, person.id, trigger_token(person.uid), match.start(), end))
    return ParsedPrompt(text, tuple(mentions))
