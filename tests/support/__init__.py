"""Helpers that tests and benchmarks share: photos, rendered liveness clips, CLI runs, embedding
blobs, tiny models on disk. Public names only; no test imports another test module."""
