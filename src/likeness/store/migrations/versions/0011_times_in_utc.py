"""recorded times in UTC

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Until now every recorded time was local wall-clock time without a zone; from here on the
catalog keeps UTC (``store.tables.UTCDateTime``; ``likeness.clock`` hands out aware UTC). Each
stored time is read as the local time of the machine running the migration and rewritten in
UTC. A photo's ``taken_at`` stays as it is: it is the wall-clock time where the photo was
taken, not a moment this machine recorded.

The audit log's hashes cover each entry's time as it was written: ``audit_log.at_text`` keeps
that text for the entries converted here (the chain is checked against it), and is empty for
entries written afterwards. Signed grant documents are not touched (their signatures cover
them); ``consent.grants`` reads version 1 documents' times as local time.

Downgrading converts the times back to local time and drops ``at_text``; audit entries
written after this migration then no longer verify (their hashes cover UTC times).
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Every recorded time: table, its primary key, its time columns.
TIMES = {
    "photos": ("id", ["indexed_at"]),
    "photo_files": ("id", ["seen_at"]),
    "people": ("id", ["created_at"]),
    "import_runs": ("id", ["started_at", "finished_at"]),
    "consent_grants": ("id", ["revoked_at"]),
    "audit_log": ("seq", ["at"]),
    "enrolment_sessions": ("id", ["created_at"]),
    "enrolments": ("id", ["created_at"]),
    "base_models": ("name", ["added_at"]),
    "adapters": ("id", ["created_at", "finished_at"]),
    "provenance_records": ("watermark_id", ["created_at"]),
    "server_jobs": ("id", ["created_at", "started_at", "finished_at"]),
    "apps": ("id", ["created_at", "revoked_at"]),
    "app_codes": ("code_hash", ["expires_at", "used_at", "replayed_at"]),
    "app_tokens": ("token_hash", ["issued_at", "expires_at", "revoked_at"]),
}


def _read(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _to_utc(local: datetime) -> datetime:
    return local.astimezone(UTC).replace(tzinfo=None)


def _to_local(utc: datetime) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


def _convert(convert, keep_audit_text: bool) -> None:
    bind = op.get_bind()
    for table, (key, columns) in TIMES.items():
        for column in columns:
            rows = bind.execute(
                sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
            ).all()
            update = sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k").bindparams(
                sa.bindparam("v", type_=sa.DateTime())
            )
            for k, value in rows:
                at = _read(value)
                if keep_audit_text and table == "audit_log":
                    bind.execute(
                        sa.text("UPDATE audit_log SET at_text = :t WHERE seq = :k"),
                        {"t": at.isoformat(), "k": k},
                    )
                bind.execute(update, {"v": convert(at), "k": k})


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("at_text", sa.Text(), nullable=True))
    _convert(_to_utc, keep_audit_text=True)


def downgrade() -> None:
    _convert(_to_local, keep_audit_text=False)
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("at_text")
