"""Provenance: every output leaves with C2PA Content Credentials signed by the library's own
local CA (``credentials``, ``identity``), an invisible watermark with error correction
(``watermark``) and a perceptual fingerprint (``fingerprint``, PDQ). The watermark and the
fingerprint are keys into the local manifest store, so ``likeness provenance verify`` can say
where an image came from after it was re-encoded (``stamp`` applies all three to an image).
"""
