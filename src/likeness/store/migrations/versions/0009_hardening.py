"""hardening: people's ids never reused; app codes and tokens bound to their grants; jobs
know who asked for them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

- ``people`` is rebuilt with SQLite's AUTOINCREMENT: a plain INTEGER PRIMARY KEY hands the
  highest id out again after that person is deleted (merged), and grants, apps and tokens
  refer to people by id. (PostgreSQL's sequences never reuse a value: nothing to do there.)
  Foreign keys are off for the rebuild (deferred, where a transaction is open already): the
  faces that point at ``people`` point at the same ids once it is back, which
  ``foreign_key_check`` then confirms.
- ``app_codes.grants`` and ``app_tokens.grants``: the consent grants an approval signed (JSON
  ids); a token is good only while each of them is in force. ``app_codes.replayed_at``: when
  a used code was presented again (a token issued on it meanwhile is born revoked).
- ``server_jobs.requester``: ``owner`` or ``app:<id>`` (per-requester quotas, an app's jobs
  cancelled when it is revoked).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Python's sqlite3 runs DDL outside a transaction, where foreign_keys=OFF takes effect;
        # inside one it would be ignored, and defer_foreign_keys holds the check until commit.
        op.execute("PRAGMA foreign_keys = OFF")
        op.execute("PRAGMA defer_foreign_keys = ON")
        with op.batch_alter_table(
            "people", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"rebuilding people broke foreign keys: {broken[:5]}")
        # Foreign keys come back on with the next connection (``migrate.upgrade_to_head``
        # drops the migration's connections).
    with op.batch_alter_table("app_codes") as batch:
        batch.add_column(sa.Column("grants", sa.Text(), nullable=True))
        batch.add_column(sa.Column("replayed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("app_tokens") as batch:
        batch.add_column(sa.Column("grants", sa.Text(), nullable=True))
    with op.batch_alter_table("server_jobs") as batch:
        batch.add_column(
            sa.Column("requester", sa.String(48), nullable=False, server_default="owner")
        )
        batch.create_index("ix_server_jobs_requester", ["requester"])


def downgrade() -> None:
    with op.batch_alter_table("server_jobs") as batch:
        batch.drop_index("ix_server_jobs_requester")
        batch.drop_column("requester")
    with op.batch_alter_table("app_tokens") as batch:
        batch.drop_column("grants")
    with op.batch_alter_table("app_codes") as batch:
        batch.drop_column("replayed_at")
        batch.drop_column("grants")
