"""People who must never be generated: the salted templates that recognise them.

A person who erased their biometric data (``consent.erasure``) leaves one salted template per
face backend (``people.identity.SaltedTemplate``). Two rooms ask it: imports, which do not
keep a face matching it, and the safety gate, which refuses an image showing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from likeness.people.identity import SaltedTemplate
from likeness.people.tables import DoNotGenerateTemplate


@dataclass
class DoNotGenerateMatcher:
    """The salted templates of one face backend, to recognise people who must never be
    generated (the safety gate) or kept (imports)."""

    templates: list[tuple[str, SaltedTemplate]] = field(default_factory=list)

    def match(self, embedding: np.ndarray) -> str | None:
        """The uid of the person whose template this face matches (the nearest), or None."""
        best: tuple[float, str] | None = None
        for uid, template in self.templates:
            d = template.distance(embedding)
            if d < template.match_distance and (best is None or d < best[0]):
                best = (d, uid)
        return best[1] if best else None

    def __bool__(self) -> bool:
        return bool(self.templates)


def do_not_generate_matcher(s: Session, backend: str) -> DoNotGenerateMatcher:
    """Every kept template made from ``backend``'s embeddings (a backend name)."""
    rows = s.scalars(
        select(DoNotGenerateTemplate).where(DoNotGenerateTemplate.backend == backend)
    ).all()
    return DoNotGenerateMatcher(
        [
            (
                r.person_uid,
                SaltedTemplate(
                    r.backend, r.salt, np.frombuffer(r.template, "<f4"), r.match_distance
                ),
            )
            for r in rows
        ]
    )


def count_withheld(s: Session, backend: str, uids: Iterable[str]) -> None:
    """Add one withheld face to each of these people's ``backend`` template (an import)."""
    for uid in uids:
        s.execute(
            update(DoNotGenerateTemplate)
            .where(
                DoNotGenerateTemplate.person_uid == uid,
                DoNotGenerateTemplate.backend == backend,
            )
            .values(faces_withheld=DoNotGenerateTemplate.faces_withheld + 1)
        )
