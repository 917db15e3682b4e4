"""Stored outputs made up for tests and benchmarks: a store grown to many outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def placeholder_record(mark_id: int, pdq: bytes, at: datetime) -> dict[str, Any]:
    """The columns of a stored output (``provenance.tables.ProvenanceRecord``) with this
    watermark id and fingerprint, everything else a placeholder."""
    return dict(
        watermark_id=mark_id,
        pdq=pdq,
        sha256=f"{mark_id:064x}",
        mime="image/png",
        width=512,
        height=512,
        manifest="{}",
        manifest_store=b"",
        created_at=at,
    )
