"""``likeness provenance``: Content Credentials of images, and the root others can trust."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import (
    EXIT_FAILED,
    HomeOption,
    JsonOption,
    console,
    open_library,
    print_json,
)

app = typer.Typer(help="Content Credentials (C2PA): verify images, export the signing root.")

STATES = {
    "trusted": "[green]trusted[/green]: intact, signed by this library",
    "valid": "[yellow]valid[/yellow]: intact, but signed by someone this library does not trust",
    "invalid": "[red]tampered or broken[/red]: the file changed after it was signed",
    "none": "nothing found: the file carries no Content Credentials",
}


@app.command("verify")
def provenance_verify(
    file: Annotated[Path, typer.Argument(help="A PNG, JPEG or WebP image.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read and validate an image's Content Credentials (exit 1 if it was tampered with)."""
    from likeness.provenance.credentials import verify_credentials

    report = verify_credentials(open_library(home), file)
    if as_json:
        print_json({"file": str(file), **report.as_json()})
    else:
        console.print(f"{file}: {STATES[report.state]}")
        if report.claim_generator:
            made = " (made by likeness)" if report.made_by_likeness else ""
            console.print(f"  generator: {report.claim_generator}{made}; issuer: {report.issuer}")
        actions = (report.assertions.get("c2pa.actions.v2") or {}).get("actions", [])
        for action in actions:
            source = action.get("digitalSourceType", "").rsplit("/", 1)[-1]
            console.print(f"  action: {action.get('action')} {source}".rstrip())
        for failure in report.failures:
            console.print(f"  [red]{failure.get('code')}[/red]: {failure.get('explanation', '')}")
    if report.state == "invalid":
        raise typer.Exit(EXIT_FAILED)


@app.command("export-trust")
def provenance_export_trust(
    out: Annotated[Path, typer.Option(help="Where to write the root certificate (PEM).")],
    home: HomeOption = None,
) -> None:
    """Write this library's signing root, for other people's C2PA readers to trust."""
    from likeness.provenance.identity import export_trust

    console.print(f"wrote {export_trust(open_library(home), out)}")
