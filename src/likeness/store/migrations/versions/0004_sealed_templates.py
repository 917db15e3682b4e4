"""sealed enrolment templates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrolments", sa.Column("template_salt", sa.LargeBinary(), nullable=True))
    op.add_column("enrolments", sa.Column("template_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrolments") as batch_op:
        batch_op.drop_column("template_sealed")
        batch_op.drop_column("template_salt")
