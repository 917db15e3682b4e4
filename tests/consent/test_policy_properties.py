"""Property test: over random sequences of grant / revoke / expire / mark-minor / merge /
rename, ``authorize`` allows exactly what the grants in force cover, and a Decision given
earlier stays in force (``check_in_force``, what long work asks before each step) exactly as
long as the grants in force still cover it."""

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from likeness.consent.grants import Scope, Trust, issue_grant, revoke_grant
from likeness.consent.policy import Action, ConsentWithdrawnError, Decision, ModelKind, authorize
from likeness.people.manage import name_person
from likeness.people.merges import merge_people
from likeness.people.tables import Person
from likeness.store import Library
from likeness.testing.libraries import copy_home

T0 = datetime(2026, 6, 1, 9)
PEOPLE = 3
REQUESTERS = ["owner", "app:notes"]


@dataclass
class Model:
    """What the grants in force should allow: the reference the gate is checked against."""

    now: datetime = T0
    alive: set[int] = field(default_factory=set)
    minors: set[int] = field(default_factory=set)
    # grant id -> (person, scopes, grantee, expires_at, revoked)
    grants: dict[str, list] = field(default_factory=dict)

    def allows(
        self, action: Action, subjects: tuple[int, ...], requester: str, model: ModelKind
    ) -> bool:
        if not subjects:
            # a picture or clip of no one uses no one's likeness
            return action in (
                Action.GENERATE_STYLIZED,
                Action.GENERATE_PHOTOREAL,
                Action.GENERATE_VIDEO,
            )
        for p in subjects:
            if p not in self.alive:
                return False
            if p in self.minors and action in (Action.GENERATE_PHOTOREAL, Action.GENERATE_VIDEO):
                return False
            if model == ModelKind.REAL:  # every grant here is attested
                return False
            if not any(
                g[0] == p
                and action.scope in g[1]
                and g[2] == requester
                and not g[4]
                and (g[3] is None or self.now < g[3])
                for g in self.grants.values()
            ):
                return False
        return True


@pytest.fixture(scope="module")
def template(tmp_path_factory, prepared_catalog) -> Path:
    """A migrated library with three people, copied for each example (fast)."""
    home = tmp_path_factory.mktemp("template")
    with prepared_catalog(), Library.open(home) as lib, lib.session() as s:
        for _ in range(PEOPLE):
            s.add(Person(created_at=T0))
    return home


operation = st.one_of(
    st.tuples(
        st.just("grant"),
        st.integers(1, PEOPLE),
        st.sets(st.sampled_from(list(Scope)), min_size=1),
        st.sampled_from(REQUESTERS),
        st.one_of(st.none(), st.integers(1, 72)),
    ),
    st.tuples(st.just("revoke"), st.integers(0, 20)),
    st.tuples(st.just("expire"), st.integers(1, 48)),
    st.tuples(st.just("minor"), st.integers(1, PEOPLE)),
    st.tuples(st.just("merge"), st.integers(1, PEOPLE), st.integers(1, PEOPLE)),
    st.tuples(
        st.just("rename"),
        st.integers(1, PEOPLE),
        # Names, not control characters (refused: tests/people/test_manage.py).
        st.text(st.characters(exclude_categories=("Cc",)), min_size=1, max_size=8),
    ),
)
query = st.tuples(
    st.sampled_from(list(Action)),
    st.sets(st.integers(1, PEOPLE + 1), max_size=3),  # PEOPLE + 1 never exists
    st.sampled_from(REQUESTERS),
    st.sampled_from(list(ModelKind)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operation, max_size=12), queries=st.lists(query, min_size=3, max_size=6))
# Found in CI: a person merged with a minor is a minor (the merge carries the mark), so a
# photoreal grant issued to them afterwards allows nothing; the model had dropped the mark.
@example(
    ops=[("minor", 3), ("merge", 2, 3), ("grant", 2, {Scope.GENERATE_PHOTOREAL}, "owner", None)],
    queries=[(Action.GENERATE_PHOTOREAL, {2}, "owner", ModelKind.TINY)] * 3,
)
def test_authorize_allows_exactly_what_grants_in_force_cover(template, ops, queries):
    home = Path(tempfile.mkdtemp())
    try:
        lib = copy_home(template, home / "lib")
        ref = Model(alive=set(range(1, PEOPLE + 1)))
        order: list[str] = []
        held: list[Decision] = []  # allowed earlier: work under way
        for op in [("start",), *ops]:
            kind = op[0]
            if kind == "grant" and op[1] in ref.alive:
                _, person, scopes, grantee, hours = op
                expires = timedelta(hours=hours) if hours else None
                g = issue_grant(
                    lib,
                    person,
                    sorted(scopes),
                    Trust.ATTESTED,
                    grantee=grantee,
                    expires_in=expires,
                    now=ref.now,
                )
                ref.grants[g.id] = [
                    person,
                    set(scopes),
                    grantee,
                    ref.now + expires if expires else None,
                    False,
                ]
                order.append(g.id)
                # Work starts under the new grant (for one of its scopes), and later
                # operations may withdraw it.
                action = Action(min(scopes))
                decision = authorize(lib, action, [person], grantee, "tiny", now=ref.now)
                assert decision.allowed == ref.allows(action, (person,), grantee, ModelKind.TINY)
                if decision.allowed:
                    held.append(decision)
            elif kind == "revoke" and order:
                grant_id = order[op[1] % len(order)]
                revoke_grant(lib, grant_id, now=ref.now)
                ref.grants[grant_id][4] = True
            elif kind == "expire":
                ref.now += timedelta(hours=op[1])
            elif kind == "minor" and op[1] in ref.alive:
                with lib.session() as s:
                    s.get(Person, op[1]).is_minor = True
                ref.minors.add(op[1])
            elif kind == "merge" and op[1] != op[2] and {op[1], op[2]} <= ref.alive:
                merge_people(lib, op[1], op[2])  # op[2] is gone; its grants cover nobody
                ref.alive.discard(op[2])
                if op[2] in ref.minors:  # the merged person keeps a minor's mark
                    ref.minors.add(op[1])
            elif kind == "rename" and op[1] in ref.alive and op[2].strip():
                name_person(lib, op[1], op[2])
            for decision in list(held):
                expected = ref.allows(
                    decision.action, decision.subjects, decision.requester, decision.model
                )
                try:
                    decision.check_in_force(lib, now=ref.now)
                    still = True
                except ConsentWithdrawnError:
                    still = False
                    held.remove(decision)
                event(f"earlier decision still in force={expected}")
                assert still == expected, (op, decision)
            for action, subjects, requester, model in queries:
                decision = authorize(lib, action, sorted(subjects), requester, model, now=ref.now)
                expected = ref.allows(action, tuple(sorted(subjects)), requester, model)
                event(f"allowed={expected}")
                assert decision.allowed == expected, (
                    op,
                    action,
                    subjects,
                    requester,
                    model,
                    decision.reason,
                )
                if decision.allowed:
                    held.append(decision)
        lib.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
