"""The whole catalog schema, gathered from the rooms that own its tables.

Each room declares its tables in its own ``tables.py`` on the store's one ``Base``; the store
itself never imports them (it sits below every room). This gathers them for what needs the
whole schema at once: comparing the migrations with the tables, autogenerating a revision.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from sqlalchemy import MetaData

import likeness
from likeness.store.tables import Base


def catalog_metadata() -> MetaData:
    """``Base.metadata`` with every room's ``tables`` module imported."""
    for room in pkgutil.iter_modules(likeness.__path__):
        if room.ispkg and importlib.util.find_spec(f"likeness.{room.name}.tables") is not None:
            importlib.import_module(f"likeness.{room.name}.tables")
    return Base.metadata
