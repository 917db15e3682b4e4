"""The whole catalog schema, gathered from the rooms that own its tables.

Each room declares its tables in its own ``tables.py`` on the store's one ``Base``; the store
itself never imports them (it sits below every room). This gathers them for what needs the
whole schema at once: comparing the migrations with the tables, autogenerating a revision.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, MetaData, create_engine

import likeness
from likeness.store.tables import Base


def catalog_metadata() -> MetaData:
    """``Base.metadata`` with every room's ``tables`` module imported."""
    for room in pkgutil.iter_modules(likeness.__path__):
        if room.ispkg and importlib.util.find_spec(f"likeness.{room.name}.tables") is not None:
            importlib.import_module(f"likeness.{room.name}.tables")
    return Base.metadata


@contextmanager
def catalog_at(home: Path, revision: str) -> Iterator[Connection]:
    """A new catalog in ``home`` migrated only as far as ``revision``, as an older version of
    likeness left it: the connection, in a transaction, adds rows the way that version
    stored them. The next ``Library.open(home)`` migrates the rest of the way."""
    from alembic import command

    from likeness.store.migrate import alembic_config

    home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{home / 'catalog.sqlite'}")
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            yield conn
    finally:
        engine.dispose()
