"""Canonical JSON: the exact bytes that are hashed and signed."""

from __future__ import annotations

import json


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
