"""What the server tests share: the owner passphrase they set and signing a client in."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from likeness.server.sessions import CSRF_HEADER

PASSPHRASE = "correct horse battery staple"
#: Where the test client reaches the server: a Host the server answers (it refuses others).
LOCAL = "http://localhost"


def signed_in(client) -> dict[str, str]:
    """Sign ``client`` in (its cookie jar keeps the session); the headers a state change
    needs (the session's CSRF token)."""
    response = client.post("/api/sign-in", json={"passphrase": PASSPHRASE})
    assert response.status_code == 200, response.text
    return {CSRF_HEADER: response.json()["csrf_token"]}


def events(client, job_id: str) -> list[dict]:
    """The job's server-sent events until its last one."""
    seen = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
    return seen


@contextmanager
def served_on_loopback(app, certificate=None) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port (its URL), until the
    block ends (the browser tests and the server benchmarks); over HTTPS with
    ``certificate`` (``server.tls.ServerCertificate``)."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ssl = certificate.uvicorn_options() if certificate is not None else {}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **ssl)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("the server did not start")
    try:
        yield f"{'https' if certificate is not None else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_command(
    args: list[str], url: str, stdin: bytes = b"", verify: Callable[[], object] | None = None
) -> Iterator[subprocess.Popen]:
    """``likeness serve ARGS`` in a process of its own, as a service runs it (no terminal;
    ``stdin`` written, then closed), until ``GET url/health`` answers (``verify()`` gives
    httpx's ``verify``, asked again each try: the server may write its CA as it starts);
    stopped when the block ends. Its output is left in the process's ``stdout``."""
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", "likeness.cli", "serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(stdin)
        server.stdin.close()
        deadline = time.monotonic() + 120
        while True:
            try:
                check = verify() if verify is not None else True
                if httpx.get(f"{url}/health", verify=check).status_code == 200:  # type: ignore[arg-type]
                    break
            except (httpx.TransportError, OSError):
                pass
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "the server did not start in 120 s"
            time.sleep(0.3)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)
