"""Run the catalog's Alembic migrations from inside the package (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest revision in migrations/versions. Checked against Alembic by a test; knowing it
#: here lets an up-to-date catalog open without importing Alembic (a CLI start-up cost).
HEAD = "0018"


def alembic_config(engine: Engine):
    """Alembic's configuration for this catalog (tests step migrations one by one with it)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):  # a new, empty catalog
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def script_head() -> str:
    """The head revision according to Alembic's own reading of migrations/versions."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the catalog to the newest schema; a cheap no-op when it is already there."""
    if current_revision(engine) == HEAD:
        return
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    # A migration may have changed a connection's pragmas (0009 and 0010 turn foreign keys off to
    # rebuild a table): no connection it used goes back to work.
    engine.dispose()
