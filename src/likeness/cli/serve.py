"""``likeness serve``: the local server (``likeness.server``) on loopback."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from likeness.cli.common import HomeOption, console, err, fail, open_library

DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a non-loopback --host: other machines on the network can reach the "
            "sign-in page (plain HTTP: put it behind TLS).",
        ),
    ] = False,
    set_passphrase: Annotated[
        bool, typer.Option("--set-passphrase", help="Set a new owner passphrase first.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Serve the library's API on this machine (sign in with the owner's passphrase)."""
    from likeness.server import create_app
    from likeness.server.owner import has_owner_passphrase, set_owner_passphrase

    if not is_loopback(host) and not allow_remote:
        raise fail(f"{host} is not a loopback address; pass --allow-remote to bind it anyway")
    lib = open_library(home)
    if set_passphrase or not has_owner_passphrase(lib):
        if not typer.get_text_stream("stdin").isatty():
            raise fail("no owner passphrase is set: run `likeness serve` in a terminal to set one")
        passphrase = typer.prompt("Owner passphrase", hide_input=True, confirmation_prompt=True)
        set_owner_passphrase(lib, passphrase)
    run_server(create_app(lib), host, port)


def run_server(app, host: str, port: int, one_time_link: bool = False) -> None:
    """Serve ``app`` (warning when not on loopback); with ``one_time_link``, print a link
    that signs the first browser to open it in."""
    import uvicorn

    if not is_loopback(host):
        err.print(
            f"[yellow]warning:[/yellow] serving on {host}: other machines can reach it, over "
            "plain HTTP"
        )
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    console.print(f"likeness is serving at {url}")
    if one_time_link:
        token = app.state.sessions.issue_link()
        console.print(f"sign in once (within 10 minutes) with {url}/sign-in/link/{token}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
