"""Whether a Ray cluster answers at an address, asked in seconds before Ray is asked.

Ray retries a control service that is not there for minutes (twenty connection attempts of
about forty seconds each), and waits for ever on a port where something else listens. So a
mistyped ``--compute`` address, a cluster stopped since ``ray start`` recorded it, or a port
taken by another program would hang a command or a server's job. ``check_cluster`` opens
the connection a gRPC client opens (Ray's control service and Ray Client speak gRPC, with
Ray's TLS when ``RAY_USE_TLS`` is set) and calls the cluster unavailable, with the reason,
unless a gRPC server answers: HTTP/2's preface gets a SETTINGS frame back.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from likeness.compute import ComputeError, ComputeUnavailableError
from likeness.compute.tls import NodeCertificate

#: How long each step of the check waits (seconds): the TCP connection, then the answer.
TIMEOUT_S = 5.0
#: Ray Client's port when a ``ray://`` address gives none.
CLIENT_PORT = 10001
#: HTTP/2's connection preface and an empty SETTINGS frame: what a gRPC client sends first.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
#: The type of HTTP/2's SETTINGS frame (a frame header is length:3, type:1, flags:1, id:4).
SETTINGS = 4


def bootstrap_address(address: str) -> tuple[str, int]:
    """The host and port ``ray.init(address)`` would reach: a ``ray://`` address's own (Ray
    Client), else the cluster's control service, which for ``auto`` is ``$RAY_ADDRESS`` or the
    cluster this machine last started or joined."""
    if address == "auto":
        from ray._private.services import get_ray_address_from_environment

        try:
            found = get_ray_address_from_environment("auto", None)
        except ConnectionError:
            raise ComputeUnavailableError(
                "--compute ray found no Ray cluster on this machine: start one with "
                "`ray start --head`, or name one with --compute ray:HOST:PORT",
                field="compute",
            ) from None
        address = str(found)
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        if not client:
            raise ComputeError(
                f"the Ray address {address!r} names no port: HOST:PORT", field="compute"
            )
        host, port = rest, str(CLIENT_PORT)
    return host.strip("[]"), int(port)


def grpc_answers(
    host: str,
    port: int,
    *,
    ca: Path | None = None,
    client: NodeCertificate | None = None,
    timeout_s: float = TIMEOUT_S,
) -> bool:
    """Whether a gRPC server at ``host:port`` answers HTTP/2's preface with SETTINGS: over
    TLS verified against ``ca`` (showing ``client``'s certificate when given) when ``ca`` is
    given, else in plain TCP. A TLS server that refuses the peer, a server that speaks
    something else and one that says nothing within ``timeout_s`` all answer False.
    ``OSError`` when nothing accepts the TCP connection."""
    with socket.create_connection((host, port), timeout=timeout_s) as raw:
        try:
            if ca is None:
                raw.sendall(H2_PREFACE)
                reply = raw.recv(64)
            else:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                # The chain is what admits a node; the name is Ray's to check (its gRPC
                # checks it against the address the node advertises, which may differ).
                context.check_hostname = False
                context.load_verify_locations(ca)
                if client is not None:
                    context.load_cert_chain(client.cert, client.key)
                context.set_alpn_protocols(["h2"])
                with context.wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(H2_PREFACE)
                    reply = tls.recv(64)
        except (ssl.SSLError, ConnectionError, TimeoutError):
            return False
    return len(reply) >= 4 and reply[3] == SETTINGS


def check_cluster(address: str, timeout_s: float = TIMEOUT_S) -> tuple[str, int]:
    """The host and port of the cluster ``address`` names (``bootstrap_address``), once a
    gRPC server answers there as this process's Ray would connect (with its TLS certificate
    when ``RAY_USE_TLS`` is set). ``ComputeUnavailableError`` saying why otherwise."""
    host, port = bootstrap_address(address)
    tls = NodeCertificate.from_environment()
    if tls is not None:
        for path in (tls.ca, tls.cert, tls.key):
            if not path.is_file():
                raise ComputeUnavailableError(
                    f"RAY_USE_TLS is set but {str(path)!r} is no file: set RAY_TLS_CA_CERT, "
                    "RAY_TLS_SERVER_CERT and RAY_TLS_SERVER_KEY (likeness compute certificate)",
                    field="compute",
                )
    try:
        answered = grpc_answers(
            host,
            port,
            ca=tls.ca if tls else None,
            client=tls,
            timeout_s=timeout_s,
        )
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ComputeUnavailableError(
            f"no Ray cluster answers at {host}:{port} ({reason.lower()}): start it with "
            "`ray start --head`, or check --compute and $RAY_ADDRESS",
            field="compute",
        ) from None
    if not answered:
        how = (
            "over TLS with this machine's certificate (is it from this library's cluster CA?)"
            if tls
            else "in plain gRPC (does the cluster use TLS? set RAY_USE_TLS and its files)"
        )
        raise ComputeUnavailableError(
            f"something listens at {host}:{port} but no Ray cluster answers {how}",
            field="compute",
        )
    return host, port
