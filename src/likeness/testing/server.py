"""What the server tests share: the owner passphrase they set and signing a client in."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
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
def served_on_loopback(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port (its URL), until the
    block ends (the browser tests and the server benchmarks)."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("the server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
