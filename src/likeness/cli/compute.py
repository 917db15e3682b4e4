"""``likeness compute``: the Ray cluster that trainings and generations may run on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import HomeOption, JsonOption, console, open_library, print_json

app = typer.Typer(help="Compute on other machines: a Ray cluster of machines you control.")


@app.command("certificate")
def compute_certificate(
    name: Annotated[str, typer.Argument(help="The node's host name or IP address.")],
    out: Annotated[
        Path, typer.Option(help="Folder for ca.pem, NAME.pem and NAME.key (0600).")
    ] = Path("ray-tls"),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a Ray TLS certificate for a cluster node from the library's cluster CA, and
    print the variables to set on that node before `ray start` (and on this machine)."""
    from likeness.compute.tls import node_certificate

    issued = node_certificate(open_library(home), name, out)
    environment = issued.environment()
    if as_json:
        print_json(environment)
        return
    for key, value in environment.items():
        console.print(f"export {key}={value}", highlight=False, soft_wrap=True)
