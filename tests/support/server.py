"""What the server tests share: the owner passphrase they set and signing a client in."""

from __future__ import annotations

import json

from likeness.server.sessions import CSRF_HEADER

PASSPHRASE = "correct horse battery staple"


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
