"""``likeness provenance``: Content Credentials of images, and the root others can trust."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import (
    HomeOption,
    JsonOption,
    console,
    open_library,
    print_json,
)
from likeness.errors import EXIT_FAILED

app = typer.Typer(help="Content Credentials (C2PA): verify images, export the signing root.")

STATES = {
    "trusted": "[green]trusted[/green]: intact, signed by this library",
    "valid": "[yellow]valid[/yellow]: intact, but signed by someone this library does not trust",
    "invalid": "[red]tampered or broken[/red]: the file changed after it was signed",
    "none": "no embedded Content Credentials",
}


@app.command("verify")
def provenance_verify(
    file: Annotated[
        Path,
        typer.Argument(help="A PNG, JPEG or WebP image, or a clip (MP4, MOV, WebM, GIF, WebP)."),
    ],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read and validate an image's Content Credentials; for a copy whose manifest was
    stripped, find it again by watermark and fingerprint (or, for a crop, a small turn or a
    frame around it, by its corners). Exit 1 if the file was tampered
    with; "nothing found" is an answer (exit 0)."""
    from likeness.provenance.stamp import find_provenance

    report = find_provenance(open_library(home), file)
    creds = report.credentials
    if as_json:
        print_json(report.as_json())
    else:
        console.print(f"{file}: {STATES[creds.state]}")
        if creds.claim_generator:
            # Anyone can sign a manifest that says it is likeness's: only one under a root
            # this library trusts is believed.
            made = ""
            if creds.made_by_likeness:
                trusted = creds.state == "trusted"
                made = " (made by likeness)" if trusted else " (claims to be made by likeness)"
            console.print(f"  generator: {creds.claim_generator}{made}; issuer: {creds.issuer}")
        if creds.manifest_label:
            console.print(f"  manifest: {creds.manifest_label}", markup=False)
        for action in (creds.assertions.get("c2pa.actions.v2") or {}).get("actions", []):
            source = action.get("digitalSourceType", "").rsplit("/", 1)[-1]
            console.print(f"  action: {action.get('action')} {source}".rstrip())
        for binding in creds.soft_bindings:
            console.print(f"  soft binding: {binding['alg']} {binding['value']}", markup=False)
        for failure in creds.failures:
            console.print(f"  [red]{failure.get('code')}[/red]: {failure.get('explanation', '')}")
        if report.watermark_id is not None:
            console.print(
                f"  watermark {report.watermark_id:08x} (confidence "
                f"{report.watermark_confidence:.2f}) names a manifest in this library"
            )
        if report.frames_matched is not None:
            console.print(
                f"  fingerprint: {report.frames_matched} of {report.frames_hashed} frames looked "
                f"at match clip {report.fingerprint_match:08x} (median "
                f"{report.fingerprint_distance} of 256 bits differ)"
            )
        elif report.fingerprint_match is not None:
            console.print(
                f"  fingerprint matches manifest {report.fingerprint_match:08x} "
                f"({report.fingerprint_distance} of 256 bits differ"
                + (
                    f"; this file is that output {report.fingerprint_copy})"
                    if report.fingerprint_copy != "as it is"
                    else ")"
                )
            )
        if report.keypoints_match is not None:
            console.print(
                f"  its corners match manifest {report.keypoints_match:08x} "
                f"({report.keypoints_inliers} agree on one position; this file is that output "
                f"{report.keypoints_copy})"
            )
        if report.keys_agree is False:
            console.print("  [yellow]the watermark and the fingerprint name different manifests")
        if report.stored_manifest and creds.state == "none":
            what = "clip" if report.frames is not None else "image"
            console.print(f"  the stored manifest says this {what} was made by likeness:")
            for a in report.stored_manifest["assertions"]:
                console.print(f"    {a['label']}: {json.dumps(a['data'], sort_keys=True)}")
        if not report.found:
            console.print("  no watermark, fingerprint or corners of this library either")
    if creds.state == "invalid":
        raise typer.Exit(EXIT_FAILED)


@app.command("export-trust")
def provenance_export_trust(
    out: Annotated[Path, typer.Option(help="Where to write the root certificate (PEM).")],
    home: HomeOption = None,
) -> None:
    """Write this library's signing root, for other people's C2PA readers to trust."""
    from likeness.provenance.identity import export_trust

    console.print(f"wrote {export_trust(open_library(home), out)}")
