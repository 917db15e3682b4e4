"""person merges: each merge of two people, kept so the owner can undo it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_merges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("target_before", sa.Text(), nullable=False),
        sa.Column("other", sa.Text(), nullable=False),
        sa.Column("face_ids", sa.Text(), nullable=False),
        sa.Column("merged_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime()),
        sqlite_autoincrement=True,  # a deleted record's id never comes back
    )
    op.create_index("ix_person_merges_target_id", "person_merges", ["target_id"])


def downgrade() -> None:
    op.drop_index("ix_person_merges_target_id", "person_merges")
    op.drop_table("person_merges")
