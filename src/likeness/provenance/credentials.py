"""C2PA Content Credentials: what likeness says about every image it makes, signed with the
official SDK (``c2pa-python``), and how a file's credentials are read back and judged.

The manifest of a generated image carries:
- ``c2pa.actions.v2``: one ``c2pa.created`` action with digitalSourceType
  ``trainedAlgorithmicMedia``, the generator, and the base model's name and SHA-256;
- ``cawg.training-mining``: training and mining ``notAllowed``;
- ``c2pa.soft-binding`` when a watermark or fingerprint binds the image to its manifest;
- ``org.likeness.consent``: the ids of the consent grants and adapters the image was made
  under, the generation's parameters and hashes; never names, embeddings or source photos.
  The official SDK's reader turns any array of numbers into base64 bytes (the signed CBOR is
  right; its JSON rendering is not), so no parameter is signed as one: ``size`` becomes
  ``{"width", "height"}``, each ``layout`` box ``{"x0", "y0", "x1", "y1"}`` and any other
  list of numbers its JSON text (see ``signable_parameters``).
There are no ingredient or claim thumbnails: an ingredient thumbnail would copy a person's photo
into every output, and the claim thumbnail would only repeat the image.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from likeness.errors import InvalidError
from likeness.provenance.identity import signing_identity
from likeness.store import Library

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
LIKENESS_ASSERTION = "org.likeness.consent"
SOFT_BINDING = "c2pa.soft-binding"
#: Validation codes that say the signer is not trusted here, not that anything was altered.
UNTRUSTED_CODES = frozenset({"signingCredential.untrusted"})
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class ProvenanceError(InvalidError):
    """Credentials could not be made or read."""


@dataclass(frozen=True)
class GenerationRecord:
    """What the credentials state about one generated image."""

    title: str
    model_name: str
    model_sha256: str
    grant_ids: tuple[str, ...] = ()
    adapter_ids: tuple[str, ...] = ()
    #: Hashes of the generation parameters (prompt, seed...): provable, not readable.
    parameters_sha256: str | None = None
    soft_bindings: tuple[tuple[str, str], ...] = ()  # (algorithm, value)
    #: The generation's parameters (seed, steps, size...), never the prompt's text.
    parameters: dict | None = None


@cache
def _version() -> str:
    """likeness's installed version, read once (reading a distribution's metadata parses its
    METADATA file: 4 ms, four times an output)."""
    from importlib.metadata import version

    return version("likeness")


def _generator() -> dict:
    return {"name": "likeness", "version": _version()}


def _numbers(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _signable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _signable(v) for k, v in value.items()}
    if _numbers(value):
        return json.dumps(list(value))
    if isinstance(value, list | tuple):
        return [_signable(v) for v in value]
    return value


def signable_parameters(parameters: dict) -> dict:
    """``parameters`` in a form the official SDK reads back as signed: no array of numbers
    (its reader renders one as base64 bytes). ``size`` [w, h] becomes ``{"width", "height"}``,
    each ``layout`` box [x0, y0, x1, y1] ``{"x0", "y0", "x1", "y1"}``, and any other list of
    numbers its JSON text."""
    out = dict(parameters)
    size = out.get("size")
    if _numbers(size) and len(size) == 2:
        out["size"] = {"width": size[0], "height": size[1]}
    layout = out.get("layout")
    if isinstance(layout, list | tuple) and all(_numbers(b) and len(b) == 4 for b in layout):
        out["layout"] = [dict(zip(("x0", "y0", "x1", "y1"), box, strict=True)) for box in layout]
    return _signable(out)


def manifest_definition(record: GenerationRecord) -> dict:
    assertions = [
        {
            "label": "c2pa.actions.v2",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                        "softwareAgent": _generator(),
                        "parameters": {
                            "model": record.model_name,
                            "model_sha256": record.model_sha256,
                        },
                    }
                ]
            },
        },
        {
            "label": "cawg.training-mining",
            "data": {
                "entries": {
                    name: {"use": "notAllowed"}
                    for name in (
                        "cawg.ai_generative_training",
                        "cawg.ai_training",
                        "cawg.ai_inference",
                        "cawg.data_mining",
                    )
                }
            },
        },
        {
            "label": LIKENESS_ASSERTION,
            "data": {
                "grants": list(record.grant_ids),
                "adapters": list(record.adapter_ids),
                "parameters_sha256": record.parameters_sha256,
                "parameters": signable_parameters(record.parameters or {}),
            },
        },
    ]
    if record.soft_bindings:
        for alg, value in record.soft_bindings:
            assertions.append(
                {
                    "label": SOFT_BINDING,
                    "data": {"alg": alg, "blocks": [{"scope": {}, "value": value}]},
                }
            )
    return {
        "claim_generator_info": [_generator()],
        "title": record.title,
        "assertions": assertions,
    }


def mime_type(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in MIME:
        raise ProvenanceError(f"{path}: not a PNG, JPEG or WebP file")
    return MIME[suffix]


def sign_image(lib: Library, data: bytes, mime: str, record: GenerationRecord) -> bytes:
    """The image ``data`` with its signed manifest embedded."""
    return sign_image_and_manifest(lib, data, mime, record)[0]


def sign_image_and_manifest(
    lib: Library, data: bytes, mime: str, record: GenerationRecord
) -> tuple[bytes, bytes]:
    """(the image with its signed manifest embedded, the signed manifest store alone)."""
    import c2pa

    identity = signing_identity(lib)
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(b"es256", identity.chain_pem, identity.key_pem, None)
    )
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    builder = c2pa.Builder.from_json(json.dumps(manifest_definition(record)), context=context)
    out = io.BytesIO()
    try:
        manifest = builder.sign(signer, mime, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"cannot sign the image: {exc}") from None
    return out.getvalue(), bytes(manifest)


@dataclass
class CredentialsReport:
    """A file's C2PA state: ``none`` (no manifest), ``invalid`` (tampered or broken),
    ``valid`` (intact, signer not trusted here) or ``trusted`` (intact, signed under a trusted
    root)."""

    state: str
    failures: list[dict] = field(default_factory=list)  # C2PA validation codes
    #: The active manifest's label (``urn:c2pa:...``), None when there is none.
    manifest_label: str | None = None
    #: Each assertion's data under its C2PA label; a label that occurs more than once has
    #: its instance suffix from the second on (``c2pa.soft-binding``, ``c2pa.soft-binding__1``).
    assertions: dict[str, object] = field(default_factory=dict)
    #: Every block of every ``c2pa.soft-binding`` assertion, in manifest order: {alg, value}.
    soft_bindings: list[dict] = field(default_factory=list)
    claim_generator: str | None = None
    issuer: str | None = None
    made_by_likeness: bool = False

    def as_json(self) -> dict:
        return {
            "state": self.state,
            "failures": self.failures,
            "manifest_label": self.manifest_label,
            "claim_generator": self.claim_generator,
            "issuer": self.issuer,
            "made_by_likeness": self.made_by_likeness,
            "soft_bindings": self.soft_bindings,
            "assertions": self.assertions,
        }


def _assertions(manifest: dict) -> dict[str, object]:
    """The manifest's assertions by their C2PA label: the reader gives a repeated label an
    ``instance`` (1, 2...), which the label carries as ``__1``, ``__2``..., as in the store."""
    out: dict[str, object] = {}
    seen: dict[str, int] = {}
    for assertion in manifest.get("assertions", []):
        label = assertion["label"]
        instance = assertion.get("instance") or seen.get(label, 0)
        seen[label] = instance + 1
        out[f"{label}__{instance}" if instance else label] = assertion.get("data")
    return out


def _soft_bindings(manifest: dict) -> list[dict]:
    return [
        {"alg": (a.get("data") or {}).get("alg"), "value": block.get("value")}
        for a in manifest.get("assertions", [])
        if a["label"] == SOFT_BINDING
        for block in (a.get("data") or {}).get("blocks", [])
    ]


def read_credentials(data: bytes, mime: str, trust_anchors: list[bytes] = ()) -> CredentialsReport:
    """Read and validate the manifest embedded in ``data``; the anchors are PEM roots."""
    import c2pa

    settings: dict = {"version": 1, "verify": {"verify_trust": True}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": b"".join(trust_anchors).decode()}
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), context=c2pa.Context.from_dict(settings))
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "JUMBF" in str(exc):
            return CredentialsReport("none")
        return CredentialsReport(
            "invalid", failures=[{"code": "unreadable", "explanation": str(exc)}]
        )
    state = (reader.get_validation_state() or "").lower()
    results = reader.get_validation_results() or {}
    failures = list((results.get("activeManifest") or {}).get("failure", []))
    manifest = reader.get_active_manifest() or {}
    assertions = _assertions(manifest)
    generator = (manifest.get("claim_generator_info") or [{}])[0]
    signature = manifest.get("signature_info") or {}
    # An untrusted signer is a fact about the reader's anchors, not damage to the file.
    broken = [f for f in failures if f.get("code") not in UNTRUSTED_CODES]
    if broken or state == "invalid":
        verdict = "invalid"
    else:
        verdict = "trusted" if state == "trusted" else "valid"
    return CredentialsReport(
        state=verdict,
        failures=failures,
        manifest_label=manifest.get("label"),
        assertions=assertions,
        soft_bindings=_soft_bindings(manifest),
        claim_generator=generator.get("name"),
        issuer=signature.get("issuer") or signature.get("common_name"),
        made_by_likeness=LIKENESS_ASSERTION in assertions,
    )


def verify_credentials(lib: Library, path: Path, mime: str | None = None) -> CredentialsReport:
    """A file's credentials, with this library's root as a trust anchor; read as ``mime``
    (default: by its suffix, for an image)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProvenanceError(f"{path}: cannot read: {exc}") from None
    return read_credentials(data, mime or mime_type(path), [signing_identity(lib).ca_pem])
