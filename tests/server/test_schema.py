"""Schemathesis against the server's OpenAPI schema: requests generated from the schema, on
a signed-in session with its CSRF token, never get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.server.sessions import COOKIE_NAME, CSRF_HEADER, SignInGuard
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, PASSPHRASE


@pytest.fixture(scope="module")
def served(prepared, tmp_path_factory):
    """The app (its job queue not started: queued imports stay queued) and a session."""
    home, _, _ = prepared
    lib = copy_home(home, tmp_path_factory.mktemp("schema-copy") / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    # Schemathesis's ASGI client names the host "testserver": a name configured as one this
    # server is reached by (any other is refused, test_hardening.py).
    # Generated passphrases are all wrong: a guard that slows them by milliseconds, not the
    # default's seconds (the generated sign-ins must answer within schemathesis's timeout).
    guard = SignInGuard(base_delay_s=0.01, max_delay_s=0.05, max_wait_s=0.2)
    app = create_app(lib, hosts=["testserver"], sign_in_guard=guard)
    client = TestClient(app, base_url=LOCAL)  # no `with`: the lifespan (the job queue) does not run
    response = client.post("/api/sign-in", json={"passphrase": PASSPHRASE})
    auth = {
        "cookies": {COOKIE_NAME: response.cookies[COOKIE_NAME]},
        "headers": {CSRF_HEADER: response.json()["csrf_token"]},
    }
    yield app, auth
    lib.close()


def test_no_request_from_the_schema_gets_a_server_error(served):
    """Every operation, 25 generated requests each (schemathesis's strategies driven by
    Hypothesis directly: its pytest plugin does not load on this pytest)."""
    app, auth = served
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    # The OAuth endpoints' parameters are in the schema, so requests are generated for them.
    spec = app.openapi()["paths"]
    authorize = {p["name"] for p in spec["/oauth/authorize"]["get"]["parameters"]}
    assert {"client_id", "redirect_uri", "scope", "code_challenge", "state"} <= authorize
    token = spec["/oauth/token"]["post"]["requestBody"]["content"]
    form = token["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert {"grant_type", "code", "code_verifier", "client_id"} <= set(form)
    statuses: set[int | str] = set()
    for operation in operations:
        if operation.path == "/api/sign-out":
            continue  # it would end the session every other request runs on

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            response = case.call(**auth)
            # A generated passphrase is wrong (401); an app's routes take a bearer token
            # (test_oauth.py), the OAuth endpoints their own credentials, and a person's
            # routes a person's session (test_people_accounts.py): the owner's is refused.
            own_door = ("/api/app/", "/oauth/", "/api/me")
            if case.path != "/api/sign-in" and not case.path.startswith(own_door):
                # Turned away at the door: no session (401) or no CSRF token (403 naming the
                # header); the gate's refusals (403 with its reason) are answers, not the
                # door, and a 400 may echo a generated value such as "X-CSRF-Token".
                door = response.status_code == 401 or (
                    response.status_code == 403
                    and b"header" in response.content
                    and b"CSRF" in response.content
                )
                statuses.add("door" if door else response.status_code)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.status_code,
                response.text[:300],
            )

        call()
    # The requests ran signed in (none was turned away at the door) and many succeeded.
    assert "door" not in statuses and 200 in statuses, statuses
