"""server runners: the ``likeness serve`` processes running one library's jobs
(``server.tables.ServerRunner``), and which of them holds each job (``server_jobs.runner``),
so that several servers on one catalog share the queue without running a job twice or
interrupting each other's

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_runners",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
    )
    # Plain ALTER TABLE ... ADD COLUMN (a batch rebuild is not needed for a new nullable column).
    op.add_column("server_jobs", sa.Column("runner", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("server_jobs") as batch:
        batch.drop_column("runner")
    op.drop_table("server_runners")
