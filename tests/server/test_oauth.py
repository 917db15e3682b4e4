"""Third-party apps: OAuth 2 authorization code with PKCE (Authlib), the owner's approval,
the app's API through the same gate; and the attacks on it, each refused: scope escalation,
another person's id, another requester's job, path traversal, a missing CSRF token, a
replayed code, a wrong verifier, a redirect URI that is not the app's, an expired token, a
revoked app or grant."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import update

from likeness import clock
from likeness.apps.tables import AppCode, AppToken
from likeness.consent.grants import list_grants
from likeness.people.tables import Person
from tests.support.apps import (
    REDIRECT,
    VERIFIER,
    approve,
    as_app,
    authorize_query,
    code_for,
    error_sent_back,
    exchange,
    token_for,
)


def test_an_app_approved_for_alice_generates_her_through_the_gate(app_world):
    client, lib, alice, _grace, app_id, headers = app_world
    bearer = token_for(client, headers, app_id, [alice])
    # The approval signed a grant to the app (and nothing for Grace).
    granted = [(g, p) for g, p in list_grants(lib) if g.grantee == f"app:{app_id}"]
    assert [p for _, p in granted] == [alice]
    assert [str(s) for s in granted[0][0].scopes] == ["generate-stylized"]
    apps_page = client.get("/apps")
    assert "Postcards" in apps_page.text and "1 token in force" in apps_page.text
    app = as_app(client)
    assert app.get("/api/app/v1/people", headers=bearer).json() == [{"id": alice, "name": "Alice"}]
    body = {"prompt": f"@{alice} on a postcard", "style": "watercolor", "steps": 2}
    queued = app.post("/api/app/v1/generate", json=body, headers=bearer)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    assert queued.json()["params"]["requester"] == f"app:{app_id}"
    deadline = time.monotonic() + 300
    while (job := app.get(f"/api/app/v1/jobs/{job_id}", headers=bearer).json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert job["state"] == "done", job
    # No path of this machine reaches the app: an image is fetched by its index.
    assert job["result"]["images"] and all("path" not in i for i in job["result"]["images"])
    image = app.get(f"/api/app/v1/jobs/{job_id}/images/0", headers=bearer)
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    # The app gets outputs only: no route of its API serves faces, photos or adapters.
    paths = [r.path for r in client.app.routes if getattr(r, "path", "").startswith("/api/app/")]
    assert not [p for p in paths if any(w in p for w in ("face", "photo", "adapter", "embed"))]


def test_scope_escalation_is_refused(app_world):
    client, lib, alice, _, app_id, headers = app_world
    # Asking for a scope an app may not have: sent back to the app with invalid_scope.
    query = authorize_query(app_id, scope="train-adapter")
    page = client.get("/oauth/authorize", params=query, follow_redirects=False)
    assert error_sent_back(page)["error"] == ["invalid_scope"]
    assert error_sent_back(approve(client, headers, query, [alice]))["state"] == ["s-123"]
    assert not [g for g, _ in list_grants(lib) if g.grantee == f"app:{app_id}"]
    bearer = token_for(client, headers, app_id, [alice])  # generate-stylized only
    app = as_app(client)
    photoreal = {"prompt": f"@{alice} on a beach", "steps": 2}  # no style: photoreal
    refused = app.post("/api/app/v1/generate", json=photoreal, headers=bearer)
    assert refused.status_code == 403 and "generate-photoreal scope" in refused.json()["detail"]
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_another_persons_id_and_another_requesters_job_are_refused(app_world):
    client, _, alice, grace, app_id, headers = app_world
    bearer = token_for(client, headers, app_id, [alice])
    app = as_app(client)
    body = {"prompt": f"@{grace} on a postcard", "style": "watercolor", "steps": 2}
    refused = app.post("/api/app/v1/generate", json=body, headers=bearer)
    # Grace is no one to this app: named as no one, listing only its own people.
    detail = refused.json()["detail"]
    assert refused.status_code == 400 and f"@{grace} names no one" in detail
    assert f"@alice ({alice})" in detail and "grace" not in detail.lower()
    assert [p["id"] for p in app.get("/api/app/v1/people", headers=bearer).json()] == [alice]
    # The owner's routes are not the app's: a bearer token opens none of them.
    assert app.get("/api/people", headers=bearer).status_code == 401
    assert app.get(f"/api/people/{grace}", headers=bearer).status_code == 401
    # A job that is not the app's is not found, whoever's it is.
    other = "0" * 32
    assert app.get(f"/api/app/v1/jobs/{other}", headers=bearer).status_code == 404


def test_path_traversal_in_the_apps_file_route_is_refused(app_world):
    client, _, alice, _, app_id, headers = app_world
    bearer = token_for(client, headers, app_id, [alice])
    app = as_app(client)
    for path in (
        "/api/app/v1/jobs/..%2F..%2Fkeys/images/0",
        "/api/app/v1/jobs/../../keys/images/0",
        f"/api/app/v1/jobs/{'0' * 32}/images/..%2F..%2Fkeys",
        f"/api/app/v1/jobs/{'0' * 32}/images/-1",
    ):
        assert app.get(path, headers=bearer).status_code in (404, 422), path


def test_a_replayed_code_is_refused_and_revokes_its_token(app_world):
    client, _, alice, _, app_id, headers = app_world
    code = code_for(client, headers, app_id, [alice])
    first = exchange(client, app_id, code)
    assert first.status_code == 200
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    replay = exchange(client, app_id, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    response = as_app(client).get("/api/app/v1/people", headers=bearer)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_wrong_pkce_verifier_or_none_is_refused(app_world):
    client, _, alice, _, app_id, headers = app_world
    code = code_for(client, headers, app_id, [alice])
    wrong = exchange(client, app_id, code, verifier="x" * 64)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = code_for(client, headers, app_id, [alice])
    missing = exchange(client, app_id, code, verifier="")
    assert missing.status_code == 400
    # A plain challenge (the verifier in the clear) is not accepted, nor one not named S256.
    query = authorize_query(app_id, code_challenge=VERIFIER, code_challenge_method="plain")
    answer = client.get("/oauth/authorize", params=query, follow_redirects=False)
    assert error_sent_back(answer)["error"] == ["invalid_request"]
    query.pop("code_challenge_method")
    answer = client.get("/oauth/authorize", params=query, follow_redirects=False)
    assert error_sent_back(answer)["error"] == ["invalid_request"]


def test_a_redirect_uri_that_is_not_the_apps_is_never_redirected_to(app_world):
    client, _, alice, _, app_id, headers = app_world
    query = authorize_query(app_id, redirect_uri="https://attacker.example/steal")
    page = client.get("/oauth/authorize", params=query)
    assert page.status_code == 400 and "attacker" not in page.headers.get("location", "")
    answer = approve(client, headers, query, [alice])
    assert answer.status_code == 400 and "location" not in answer.headers


def test_the_approval_needs_the_sessions_csrf_token(app_world):
    client, lib, alice, _, app_id, _headers = app_world
    form = {**authorize_query(app_id), "person": [str(alice)], "decision": "allow"}
    assert client.post("/oauth/authorize", data=form, follow_redirects=False).status_code == 403
    register = {"name": "Sneaky", "redirect_uri": REDIRECT}
    assert client.post("/api/apps", json=register).status_code == 403
    assert not [g for g, _ in list_grants(lib) if g.grantee == f"app:{app_id}"]


def test_an_approval_verified_by_an_enrolment_needs_that_persons_passed_one(app_world):
    client, lib, alice, grace, app_id, headers = app_world
    query = authorize_query(app_id)
    form = {**query, "csrf_token": headers["X-CSRF-Token"], "decision": "allow", "days": "7"}
    bogus = client.post(
        "/oauth/authorize", data={**form, "person": [str(alice)], "enrolment": "f" * 32}
    )
    assert bogus.status_code == 400 and "enrolment" in bogus.text  # a page saying why
    two = client.post(
        "/oauth/authorize",
        data={**form, "person": [str(alice), str(grace)], "enrolment": "f" * 32},
    )
    assert two.status_code == 400 and "one person" in two.text
    assert not [g for g, _ in list_grants(lib) if g.grantee == f"app:{app_id}"]


def test_a_minor_cannot_be_approved_for_an_app(app_world):
    from likeness.people.manage import set_minor

    client, lib, _, grace, app_id, headers = app_world
    set_minor(lib, grace)
    page = client.get("/oauth/authorize", params=authorize_query(app_id))
    assert f'value="{grace}"' not in page.text  # not offered
    refused = approve(client, headers, authorize_query(app_id), [grace])  # nor taken
    assert refused.status_code == 400 and "only people this page offers" in refused.text
    assert not [g for g, _ in list_grants(lib) if g.grantee == f"app:{app_id}"]


def test_denying_sends_the_app_away_with_nothing(app_world):
    client, lib, alice, _, app_id, headers = app_world
    answer = approve(client, headers, authorize_query(app_id), [alice], decision="deny")
    assert answer.status_code == 302
    params = parse_qs(urlsplit(answer.headers["location"]).query)
    assert params["error"] == ["access_denied"] and "code" not in params
    assert not [g for g, _ in list_grants(lib) if g.grantee == f"app:{app_id}"]


def test_an_expired_code_is_refused(app_world):
    client, lib, alice, _, app_id, headers = app_world
    code = code_for(client, headers, app_id, [alice])
    with lib.session() as s:  # a minute passes
        s.execute(update(AppCode).values(expires_at=datetime.now() - timedelta(seconds=1)))
    late = exchange(client, app_id, code)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_a_token_ends_no_later_than_the_grant_it_rests_on(app_world):
    from likeness.apps import tokens
    from likeness.consent.grants import Scope, Trust, issue_grant

    _, lib, alice, _, app_id, _ = app_world
    grant = issue_grant(
        lib,
        alice,
        [Scope.GENERATE_STYLIZED],
        Trust.ATTESTED,
        grantee=f"app:{app_id}",
        expires_in=timedelta(minutes=10),
    )
    code = tokens.Code(
        "c" * 64, app_id, REDIRECT, "generate-stylized", (alice,), "x", "S256", (grant.id,)
    )
    expires = tokens.save_token(lib, "a-token", code)
    assert expires == grant.expires_at < clock.now() + tokens.TOKEN_TTL


def test_an_expired_token_is_refused(app_world):
    client, lib, alice, _, app_id, headers = app_world
    bearer = token_for(client, headers, app_id, [alice])
    with lib.session() as s:  # an hour passes
        s.execute(update(AppToken).values(expires_at=datetime.now() - timedelta(seconds=1)))
    response = as_app(client).get("/api/app/v1/people", headers=bearer)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_revoking_the_app_or_its_grant_stops_its_tokens_at_once(app_world):
    client, lib, alice, grace, app_id, headers = app_world
    bearer = token_for(client, headers, app_id, [alice, grace])
    grant = next(g for g, p in list_grants(lib) if g.grantee == f"app:{app_id}" and p == grace)
    revoked = client.post(f"/api/consent/grants/{grant.id}/revoke", json={}, headers=headers)
    assert revoked.status_code == 200, revoked.text
    app_client = TestClient(client.app, base_url="http://localhost")
    response = app_client.get("/api/app/v1/people", headers=bearer)
    assert response.status_code == 401 and "withdrawn" in response.json()["detail"]
    # An app's grant is not the owner's: Grace's adapter key is still there.
    with lib.session() as s:
        assert lib.keys.person_key(s.get(Person, grace).uid)
    other = token_for(client, headers, app_id, [alice])
    assert app_client.get("/api/app/v1/people", headers=other).status_code == 200
    assert client.post(f"/api/apps/{app_id}/revoke", headers=headers).status_code == 200
    response = app_client.get("/api/app/v1/people", headers=other)
    assert response.status_code == 401
    # A revoked app cannot start again.
    page = client.get("/oauth/authorize", params=authorize_query(app_id))
    assert page.status_code == 400


def test_an_app_never_reads_an_internal_errors_details_old_or_new(app_world):
    """A job of the app's that failed on a bug: the app reads that something went wrong,
    never the text (a path of this machine, a person's name in it), whether the failure was
    recorded the way older versions wrote it or the way failure_words writes it now."""
    import uuid

    from likeness import clock
    from likeness.server.jobs import FAILED, failure_words
    from likeness.server.tables import ServerJob

    client, lib, alice, _grace, app_id, headers = app_world
    bearer = token_for(client, headers, app_id, [alice])
    app = as_app(client)
    leaky = "internal error: FileNotFoundError('/home/me/Photos/Alice Smith/1.jpg')"
    for message in (leaky, failure_words(PermissionError(13, "denied", "/home/me/Alice"))):
        job = uuid.uuid4().hex
        with lib.session() as s:
            s.add(
                ServerJob(
                    id=job,
                    kind="generate",
                    params="{}",
                    state=FAILED,
                    message=message,
                    created_at=clock.now(),
                    requester=f"app:{app_id}",
                )
            )
        seen = app.get(f"/api/app/v1/jobs/{job}", headers=bearer).json()["message"]
        assert "/home/me" not in seen and "Alice" not in seen, seen
