"""The catalog (SQLite via SQLAlchemy, migrated by Alembic) and the vault of derived files.

``store`` imports nothing else of ours: every other room depends on it, never the reverse.
"""

from likeness.store.home import Library, default_home, hold_write_lock

__all__ = ["Library", "default_home", "hold_write_lock"]
