"""pdq index: the stored fingerprints cut into 16 chunks of 16 bits, one row a chunk
(``provenance.tables.PdqChunk``), so verifying a file looks up its near neighbours instead
of reading every stored hash; filled from the outputs stored so far

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provenance_pdq_chunks",
        sa.Column("chunk", sa.Integer(), primary_key=True),
        sa.Column("value", sa.Integer(), primary_key=True),
        sa.Column(
            "watermark_id",
            sa.BigInteger(),
            sa.ForeignKey("provenance_records.watermark_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT watermark_id, pdq FROM provenance_records")).all()
    chunks = [
        {"chunk": i, "value": int.from_bytes(bytes(pdq)[2 * i : 2 * i + 2], "big"), "id": mark}
        for mark, pdq in rows
        for i in range(16)
    ]
    if chunks:
        bind.execute(
            sa.text(
                "INSERT INTO provenance_pdq_chunks (chunk, value, watermark_id) "
                "VALUES (:chunk, :value, :id)"
            ),
            chunks,
        )


def downgrade() -> None:
    op.drop_table("provenance_pdq_chunks")
