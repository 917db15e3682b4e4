"""Prompts with @mentions: ``"@me and @alice at the beach"``.

A mention names a person by name (case-insensitive; spaces in a name may be written as ``_`` or
``-``), by id (``@12``), or ``@me`` for the person marked as the library owner. An unknown or
ambiguous mention is an error that lists the candidates. Each mention becomes the person's
trigger word (``lkxxxx person``), which their adapter was trained to draw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from likeness.adapters.curation import trigger_token
from likeness.errors import LikenessError
from likeness.store import Library
from likeness.store.models import Person

MENTION = re.compile(r"@([\w][\w.\-]*)", re.UNICODE)


class MentionError(LikenessError):
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


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", name.strip().casefold())


def parse_prompt(lib: Library, text: str) -> ParsedPrompt:
    """Resolve the prompt's @mentions to people, or raise ``MentionError``."""
    with lib.session() as s:
        people = s.execute(select(Person.id, Person.name, Person.uid, Person.is_owner)).all()
    by_id = {p.id: p for p in people}
    mentions = []
    for match in MENTION.finditer(text):
        word = match.group(1).rstrip(".-")
        end = match.start() + 1 + len(word)
        if word.isdigit():
            found = [by_id[int(word)]] if int(word) in by_id else []
        elif word.casefold() == "me":
            found = [p for p in people if p.is_owner]
            if not found:
                raise MentionError(
                    "@me names the library owner, and no one is marked as the owner yet "
                    "(`likeness people me ID`)"
                )
        else:
            found = [p for p in people if p.name and _key(p.name) == _key(word)]
        if not found:
            named = sorted((p.name, p.id) for p in people if p.name)
            close = [f"@{_key(n)} ({i})" for n, i in named if _key(n)[:1] == _key(word)[:1]]
            listing = ", ".join(close or [f"@{_key(n)} ({i})" for n, i in named]) or "none named"
            raise MentionError(f"@{word} names no one; people: {listing}")
        if len(found) > 1:
            ids = ", ".join(f"@{p.id}" for p in found)
            raise MentionError(f"@{word} names {len(found)} people; use their ids: {ids}")
        person = found[0]
        mentions.append(Mention(word, person.id, trigger_token(person.uid), match.start(), end))
    return ParsedPrompt(text, tuple(mentions))
