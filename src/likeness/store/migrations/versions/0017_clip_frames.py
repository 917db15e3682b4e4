"""clip frames: each stored video clip's per-frame PDQ hashes
(``provenance.tables.ClipFrameHash``), what finds a copy of a clip that lost its manifest

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provenance_clip_frames",
        sa.Column(
            "watermark_id",
            sa.BigInteger(),
            sa.ForeignKey("provenance_records.watermark_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("frame", sa.Integer(), primary_key=True),
        sa.Column("pdq", sa.LargeBinary(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("provenance_clip_frames")
