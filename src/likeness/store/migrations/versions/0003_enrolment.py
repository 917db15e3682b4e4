"""enrolment sessions and records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrolment_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_uid", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrolment_sessions_person_uid", "enrolment_sessions", ["person_uid"])
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_uid", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("template_commitment", sa.String(length=64), nullable=True),
        sa.Column("match_distance", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    op.create_index("ix_enrolments_person_uid", "enrolments", ["person_uid"])


def downgrade() -> None:
    op.drop_index("ix_enrolments_person_uid", table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_index("ix_enrolment_sessions_person_uid", table_name="enrolment_sessions")
    op.drop_table("enrolment_sessions")
