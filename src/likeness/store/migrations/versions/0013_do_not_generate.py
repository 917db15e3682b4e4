"""do not generate: people.do_not_generate, and the salted templates that recognise a person
who erased their biometric data; provenance_records.safety_seq (the verdict that released
an image, which a person's activity names it beside); grant_requests (a permission asked of
a person who consents for themselves, by the owner or for an app); guardianships and
guardian_requests (a minor's permissions, approved by their guardian)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, as in 0012: a batch rebuild of ``people`` would drop AUTOINCREMENT.
    op.add_column(
        "people",
        sa.Column("do_not_generate", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "do_not_generate_templates",
        sa.Column("person_uid", sa.String(32), primary_key=True),
        sa.Column("backend", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("match_distance", sa.Float(), nullable=False),
        sa.Column("faces_withheld", sa.Integer(), nullable=False),
    )
    op.create_table(
        "grant_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("grantee", sa.String(40), nullable=False),
        sa.Column("person_uid", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("days", sa.Integer()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime()),
        sa.Column("answer", sa.String(16)),
        sa.Column("grant_id", sa.String(32)),
    )
    op.create_index("ix_grant_requests_grantee", "grant_requests", ["grantee"])
    op.create_index("ix_grant_requests_person_uid", "grant_requests", ["person_uid"])
    op.create_table(
        "guardianships",
        sa.Column("minor_uid", sa.String(32), primary_key=True),
        sa.Column("guardian_uid", sa.String(32), nullable=False),
        sa.Column("named_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_guardianships_guardian_uid", "guardianships", ["guardian_uid"])
    op.create_table(
        "guardian_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("minor_uid", sa.String(32), nullable=False),
        sa.Column("guardian_uid", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("expires_days", sa.Integer()),
        sa.Column("enrolment_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime()),
        sa.Column("answer", sa.String(16)),
        sa.Column("grant_id", sa.String(32)),
    )
    op.create_index("ix_guardian_requests_minor_uid", "guardian_requests", ["minor_uid"])
    op.create_index("ix_guardian_requests_guardian_uid", "guardian_requests", ["guardian_uid"])
    op.add_column("provenance_records", sa.Column("safety_seq", sa.Integer()))
    op.create_index("ix_provenance_records_safety_seq", "provenance_records", ["safety_seq"])


def downgrade() -> None:
    op.drop_table("guardian_requests")
    op.drop_table("guardianships")
    op.drop_table("grant_requests")
    op.drop_index("ix_provenance_records_safety_seq", "provenance_records")
    with op.batch_alter_table("provenance_records") as batch:
        batch.drop_column("safety_seq")
    op.drop_table("do_not_generate_templates")
    with op.batch_alter_table(
        "people", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("do_not_generate")
