"""Provenance: every output leaves with C2PA Content Credentials signed by the library's own
local CA (and, as the issue on generation builds it out, a watermark and a fingerprint)."""
