"""``likeness serve``: the local server (``likeness.server``) on loopback."""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import ComputeOption, HomeOption, console, err, fail, open_library

DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_passphrase_file(path: Path) -> str:
    """The passphrase in ``path`` (its first line; a service's credential file). A file that
    others can read is used, with a warning: the passphrase is only as private as it."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise fail(f"cannot read the passphrase file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        err.print(
            f"[yellow]warning:[/yellow] {path} can be read by other users: `chmod 600 {path}`",
            highlight=False,
        )
    lines = text.splitlines()
    return lines[0] if lines else ""


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
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Another name this server is reached by (repeatable). Requests naming any "
            "other Host are refused (DNS rebinding); loopback names and --host always work.",
        ),
    ] = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve HTTPS with a certificate from the library's server CA, for --host and "
            "every --allowed-host (phones get the camera and passkeys only over HTTPS). "
            "Install the CA on a phone once: it is at /tls/ca.pem.",
        ),
    ] = False,
    set_passphrase: Annotated[
        bool, typer.Option("--set-passphrase", help="Set a new owner passphrase first.")
    ] = False,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Set the owner passphrase from this file's first line, with no terminal "
            "(a service: systemd's LoadCredential=, a container secret).",
        ),
    ] = None,
    passphrase_stdin: Annotated[
        bool,
        typer.Option(
            "--passphrase-stdin", help="Set the owner passphrase from stdin's first line."
        ),
    ] = False,
    compute: ComputeOption = None,
    home: HomeOption = None,
) -> None:
    """Serve the library's API on this machine (sign in with the owner's passphrase)."""
    from likeness.server import create_app
    from likeness.server.owner import has_owner_passphrase, set_owner_passphrase

    if not is_loopback(host) and not allow_remote:
        raise fail(f"{host} is not a loopback address; pass --allow-remote to bind it anyway")
    from likeness.server.tls import is_local_name

    if tls and host not in ("0.0.0.0", "::") and not is_local_name(host):
        raise fail(f"--tls: {host} is not a local name or a private address")
    if passphrase_file is not None and passphrase_stdin:
        raise fail("give the passphrase by --passphrase-file or --passphrase-stdin, not both")
    from likeness.compute import COMPUTE_ENV, compute_from

    # An unknown setting, or a cluster that does not answer, fails here, not in the first job.
    cluster = compute_from(compute)
    if cluster is not None:
        cluster.check()
    if compute is not None:
        os.environ[COMPUTE_ENV] = compute  # the jobs' processes train and generate there
    lib = open_library(home)
    if passphrase_file is not None:
        set_owner_passphrase(lib, read_passphrase_file(passphrase_file))
    elif passphrase_stdin:
        line = typer.get_text_stream("stdin").readline()
        set_owner_passphrase(lib, line.rstrip("\r\n"))
    elif set_passphrase or not has_owner_passphrase(lib):
        if not typer.get_text_stream("stdin").isatty():
            raise fail(
                "no owner passphrase is set: run `likeness serve` in a terminal to set one, "
                "or pass --passphrase-file or --passphrase-stdin"
            )
        passphrase = typer.prompt("Owner passphrase", hide_input=True, confirmation_prompt=True)
        set_owner_passphrase(lib, passphrase)
    certificate = None
    if tls:
        from likeness.server.tls import server_certificate

        certificate = server_certificate(lib, [host, *(allowed_host or ())])
    try:
        app = create_app(
            lib, secure_cookies=tls, host=host, hosts=allowed_host or (), tls=certificate
        )
    except ValueError as exc:  # an --allowed-host that is no host name
        raise fail(f"--allowed-host: {exc}") from None
    run_server(app, host, port, certificate=certificate)


def run_server(app, host: str, port: int, one_time_link: bool = False, certificate=None) -> None:
    """Serve ``app`` (warning when not on loopback over plain HTTP); with ``one_time_link``,
    print a link that signs the first browser to open it in; with ``certificate``
    (``server.tls.ServerCertificate``), over HTTPS."""
    import uvicorn

    if not is_loopback(host) and certificate is None:
        err.print(
            f"[yellow]warning:[/yellow] serving on {host}: other machines can reach it, over "
            "plain HTTP (people cannot sign in from their phones: pass --tls)"
        )
    scheme = "https" if certificate is not None else "http"
    url = f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    console.print(f"likeness is serving at {url}")
    if certificate is not None:
        console.print(
            f"its certificate names {', '.join(certificate.names)}; phones trust it once "
            f"their owner installs the server's CA, {url}/tls/ca.pem ({certificate.ca_path})"
        )
    if one_time_link:
        token = app.state.sessions.issue_link()
        console.print(f"sign in once (within 10 minutes) with {url}/sign-in/link/{token}")
    ssl = certificate.uvicorn_options() if certificate is not None else {}
    uvicorn.run(app, host=host, port=port, log_level="warning", **ssl)
