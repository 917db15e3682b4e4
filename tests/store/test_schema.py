"""The migrations build exactly the tables the rooms declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from likeness.store import Library
from likeness.store.tables import Base
from likeness.testing.schema import catalog_metadata


def test_every_room_declares_its_tables_on_the_one_base():
    metadata = catalog_metadata()
    assert metadata is Base.metadata
    owners = {t.name: m.class_.__module__ for m in Base.registry.mappers for t in m.tables}
    assert owners["photos"] == "likeness.library.tables"
    assert owners["faces"] == "likeness.faces.tables"
    assert owners["people"] == "likeness.people.tables"
    assert owners["adapters"] == "likeness.adapters.tables"
    assert owners["apps"] == "likeness.apps.tables"
    assert set(owners) == set(metadata.tables)


def test_a_migrated_catalog_matches_the_tables(tmp_path):
    lib = Library.open(tmp_path)
    with lib.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), catalog_metadata())
    assert diff == []
