"""Third-party apps in the server tests: an app registered on a signed-in server over the
trained two-people library, and the OAuth steps an app takes (authorize, approve, exchange)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient

from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, PASSPHRASE, signed_in

REDIRECT = "http://127.0.0.1:9999/callback"
VERIFIER = "a-verifier-of-the-app-that-is-long-enough-to-be-accepted-0123456789"


def _world(trained, tmp_path, run_jobs: bool):
    home, alice, grace = trained
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    client = TestClient(create_app(lib), base_url=LOCAL)
    if run_jobs:
        client.__enter__()  # the lifespan: the job queue runs
    headers = signed_in(client)
    app = client.post(
        "/api/apps", json={"name": "Postcards", "redirect_uri": REDIRECT}, headers=headers
    )
    assert app.status_code == 201, app.text
    yield client, lib, alice, grace, app.json()["id"], headers
    if run_jobs:
        client.__exit__(None, None, None)
    lib.close()


@pytest.fixture
def app_world(trained, tmp_path):
    """A server over the trained two-people library, reached on loopback (OAuth needs TLS
    anywhere else), signed in; an app registered."""
    yield from _world(trained, tmp_path, run_jobs=True)


@pytest.fixture
def idle_app_world(trained, tmp_path):
    """The same, its job queue not running: queued jobs stay queued."""
    yield from _world(trained, tmp_path, run_jobs=False)


def authorize_query(app_id: str, scope: str = "generate-stylized", **extra) -> dict:
    return {
        "response_type": "code",
        "client_id": app_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "s-123",
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }


def approve(client, headers, query: dict, people: list[int], decision: str = "allow"):
    form = {**query, "csrf_token": headers["X-CSRF-Token"], "days": "30", "decision": decision}
    form["person"] = [str(p) for p in people]
    return client.post("/oauth/authorize", data=form, follow_redirects=False)


def code_for(client, headers, app_id: str, people: list[int], **extra) -> str:
    query = authorize_query(app_id, **extra)
    page = client.get("/oauth/authorize", params=query)
    assert page.status_code == 200 and "Postcards" in page.text
    answer = approve(client, headers, query, people)
    assert answer.status_code == 302, answer.text
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    params = parse_qs(target.query)
    assert params["state"] == ["s-123"]
    return params["code"][0]


def token_form(app_id: str, code: str, verifier: str = VERIFIER) -> dict[str, str]:
    """The token request's form for a code (RFC 6749 4.1.3, with the PKCE verifier)."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": app_id,
        "code_verifier": verifier,
    }


def exchange(client, app_id: str, code: str, verifier: str = VERIFIER):
    return client.post("/oauth/token", data=token_form(app_id, code, verifier))


def token_for(client, headers, app_id: str, people: list[int], **extra) -> dict[str, str]:
    response = exchange(client, app_id, code_for(client, headers, app_id, people, **extra))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer" and 0 < body["expires_in"] <= 3600
    return {"Authorization": f"Bearer {body['access_token']}"}


def as_app(client):
    """The app's own requests carry no cookie of the owner's."""
    client.cookies.clear()
    return client


def error_sent_back(response) -> dict[str, list[str]]:
    """The error an authorization request was sent back to the app with (RFC 6749 4.1.2.1),
    after checking it went to the app's own redirect URI and says which server answered."""
    assert response.status_code == 302, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    params = parse_qs(target.query)
    assert params["iss"] == ["http://localhost"] and "code" not in params
    return params
