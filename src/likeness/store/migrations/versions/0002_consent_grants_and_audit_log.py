"""consent grants, audit log, person uid and minor flag

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    op.create_table(
        "consent_grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_uid", sa.String(length=32), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_grants_subject_uid", "consent_grants", ["subject_uid"])
    # People get a never-reused uid (backfilled for existing rows) and a minor flag. Plain
    # ADD COLUMN and a unique index: no table rebuild (which foreign keys would refuse).
    op.add_column("people", sa.Column("uid", sa.String(length=32), nullable=True))
    op.add_column(
        "people", sa.Column("is_minor", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    conn = op.get_bind()
    for (person_id,) in conn.execute(sa.text("SELECT id FROM people")).all():
        conn.execute(
            sa.text("UPDATE people SET uid = :uid WHERE id = :id"),
            {"uid": uuid.uuid4().hex, "id": person_id},
        )
    op.create_index("uq_people_uid", "people", ["uid"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_people_uid", table_name="people")
    with op.batch_alter_table("people") as batch_op:
        batch_op.drop_column("is_minor")
        batch_op.drop_column("uid")
    op.drop_index("ix_consent_grants_subject_uid", table_name="consent_grants")
    op.drop_table("consent_grants")
    op.drop_table("audit_log")
