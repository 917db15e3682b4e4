"""output keypoints: each stored output's strongest corners and their ORB descriptors
(``provenance.tables.OutputKeypoints``), what finds a cropped, turned or framed copy. Outputs
stored before this have none (their pixels are not kept): they are still found by their
watermark and PDQ fingerprint

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provenance_keypoints",
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column(
            "watermark_id",
            sa.BigInteger(),
            sa.ForeignKey("provenance_records.watermark_id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("points", sa.LargeBinary(), nullable=False),
        sa.Column("descriptors", sa.LargeBinary(), nullable=False),
        sqlite_autoincrement=True,  # the search index adds rows past the last it holds
    )


def downgrade() -> None:
    op.drop_table("provenance_keypoints")
