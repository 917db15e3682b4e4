"""people.uid is required

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

0002 added ``people.uid`` as nullable to backfill it; every row has had one since, and the
table always declared it required. Found by comparing the migrated schema with the tables
(``tests/store/test_schema.py``). On SQLite the table is rebuilt (keeping AUTOINCREMENT),
with foreign keys off as in 0009.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _alter(nullable: bool) -> None:
    bind = op.get_bind()
    missing = bind.execute(sa.text("SELECT count(*) FROM people WHERE uid IS NULL")).scalar()
    if missing and not nullable:
        raise RuntimeError(f"{missing} people have no uid; the catalog needs repair")
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys = OFF")
        op.execute("PRAGMA defer_foreign_keys = ON")
    with op.batch_alter_table(
        "people",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.alter_column("uid", existing_type=sa.String(32), nullable=nullable)
    if sqlite:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"rebuilding people broke foreign keys: {broken[:5]}")


def upgrade() -> None:
    _alter(nullable=False)


def downgrade() -> None:
    _alter(nullable=True)
