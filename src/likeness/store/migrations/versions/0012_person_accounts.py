"""person accounts: invitations, accounts and passkeys, so people consent for themselves;
people.consents_for_self (their group is no longer the owner's to regroup)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE ... ADD COLUMN: a batch rebuild of ``people`` would drop SQLite's
    # AUTOINCREMENT (migration 0009), and ids would be handed out again.
    op.add_column(
        "people",
        sa.Column("consents_for_self", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("person_uid", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("opened_at", sa.DateTime()),
        sa.Column("revoked_at", sa.DateTime()),
    )
    op.create_index("ix_invitations_person_uid", "invitations", ["person_uid"])
    op.create_table(
        "person_accounts",
        sa.Column("person_uid", sa.String(32), primary_key=True),
        sa.Column("user_handle", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("invitation_id", sa.String(32), nullable=False),
    )
    op.create_table(
        "passkeys",
        sa.Column("credential_id", sa.LargeBinary(), primary_key=True),
        sa.Column("person_uid", sa.String(32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime()),
    )
    op.create_index("ix_passkeys_person_uid", "passkeys", ["person_uid"])


def downgrade() -> None:
    with op.batch_alter_table(
        "people", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("consents_for_self")
    op.drop_table("passkeys")
    op.drop_table("person_accounts")
    op.drop_table("invitations")
