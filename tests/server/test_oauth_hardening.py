"""Third-party apps tried as an attacker would (issue 22): what an app learns of people
outside its token, revoking one of two grants, one code exchanged in parallel, incomplete
authorization requests, and what a well-behaved client is owed (errors sent back with
``state`` and ``iss``, the server's metadata, CORS for browser apps, ``WWW-Authenticate``,
the documented limit on how long an approval lasts)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

from likeness.consent.grants import list_grants
from likeness.people.manage import hide_person, name_person, set_minor, split_person
from likeness.testing.server import LOCAL, served_on_loopback
from tests.support.apps import (
    REDIRECT,
    VERIFIER,
    approve,
    as_app,
    authorize_query,
    code_for,
    error_sent_back,
    token_for,
    token_form,
)


def app_grants(lib, app_id: str) -> list:
    return [g for g, _ in list_grants(lib) if g.grantee == f"app:{app_id}"]


def test_an_apps_errors_name_no_one_outside_its_token(app_world):
    """An app holding Grace only learns nothing of Alice (the owner), of a hidden person or
    of a minor: not their names, not their ids, not whether an id or a name exists."""
    from likeness.faces.listing import list_faces

    client, lib, alice, grace, app_id, headers = app_world
    face = next(f["id"] for f in list_faces(lib) if f["person"] == alice)
    hidden = split_person(lib, alice, [face], "Hidden Henrietta")
    hide_person(lib, hidden, True)
    bearer = token_for(client, headers, app_id, [grace])
    set_minor(lib, alice)
    name_person(lib, alice, "Alice Minor")
    app = as_app(client)
    for prompt in (
        "@zzz at sea",
        "@me at sea",
        f"@{alice} at sea",
        "@alice_minor at sea",
        f"@{hidden} at sea",
        "@hidden_henrietta at sea",
        "@a at sea",
    ):
        body = {"prompt": prompt, "style": "watercolor", "steps": 1}
        refused = app.post("/api/app/v1/generate", json=body, headers=bearer)
        assert refused.status_code == 400, (prompt, refused.text)
        detail = refused.json()["detail"].lower()
        assert "names no one" in detail
        listing = detail.partition("people you may ask for:")[2]
        for secret in ("alice", "henrietta", "minor", "owner", f"({alice})", f"({hidden})"):
            assert secret not in listing, (prompt, detail)
        assert f"@grace_hopper ({grace})" in detail
    # An id that does not exist reads exactly as one that does but is not the app's.
    missing = app.post(
        "/api/app/v1/generate",
        json={"prompt": "@987654 at sea", "style": "watercolor", "steps": 1},
        headers=bearer,
    ).json()["detail"]
    other = app.post(
        "/api/app/v1/generate",
        json={"prompt": f"@{alice} at sea", "style": "watercolor", "steps": 1},
        headers=bearer,
    ).json()["detail"]
    assert missing.replace("987654", "X") == other.replace(str(alice), "X")


def test_revoking_one_of_two_grants_stops_the_token_that_rests_on_it(app_world):
    client, lib, alice, _, app_id, headers = app_world
    first = token_for(client, headers, app_id, [alice])
    first_grant = app_grants(lib, app_id)[0]
    second = token_for(client, headers, app_id, [alice])  # a second approval, a second grant
    assert len(app_grants(lib, app_id)) == 2
    revoked = client.post(f"/api/consent/grants/{first_grant.id}/revoke", json={}, headers=headers)
    assert revoked.status_code == 200
    app = TestClient(client.app, base_url=LOCAL)
    stopped = app.get("/api/app/v1/people", headers=first)
    assert stopped.status_code == 401 and "withdrawn" in stopped.json()["detail"]
    body = {"prompt": f"@{alice} on a postcard", "style": "watercolor", "steps": 1}
    assert app.post("/api/app/v1/generate", json=body, headers=first).status_code == 401
    # The other approval's token rests on the other grant, still in force.
    assert app.get("/api/app/v1/people", headers=second).status_code == 200


def test_one_code_exchanged_in_parallel_gives_one_token_and_the_replays_revoke_it(app_world):
    client, _, alice, _, app_id, headers = app_world
    code = code_for(client, headers, app_id, [alice])
    with served_on_loopback(client.app) as url:
        form = token_form(app_id, code)

        def exchange_once(_: int) -> httpx.Response:
            return httpx.post(f"{url}/oauth/token", data=form, timeout=60)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(exchange_once, range(8)))
        issued = [a.json()["access_token"] for a in answers if a.status_code == 200]
        assert len(issued) == 1, [a.status_code for a in answers]
        assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code != 200)
        # Someone else presented the code too: the token issued on it is revoked.
        used = httpx.get(
            f"{url}/api/app/v1/people", headers={"Authorization": f"Bearer {issued[0]}"}
        )
        assert used.status_code == 401 and "revoked" in used.json()["detail"]


def test_an_incomplete_authorization_request_signs_nothing_and_is_sent_back(app_world):
    client, lib, alice, _, app_id, headers = app_world
    for missing, error in (("code_challenge", "invalid_request"), ("scope", "invalid_scope")):
        query = authorize_query(app_id)
        query.pop(missing)
        page = client.get("/oauth/authorize", params=query, follow_redirects=False)
        sent = error_sent_back(page)
        assert sent["error"] == [error] and sent["state"] == ["s-123"], missing
        assert error_sent_back(approve(client, headers, query, [alice]))["error"] == [error]
    assert app_grants(lib, app_id) == []
    # No client: nothing is known to send it back to; a page says why.
    query = authorize_query(app_id)
    query.pop("client_id")
    page = client.get("/oauth/authorize", params=query, follow_redirects=False)
    assert page.status_code == 400 and "location" not in page.headers


def test_a_request_without_a_redirect_uri_uses_the_apps_one(app_world):
    client, lib, alice, _, app_id, headers = app_world
    query = authorize_query(app_id)
    query.pop("redirect_uri")
    assert client.get("/oauth/authorize", params=query).status_code == 200
    answer = approve(client, headers, query, [alice])
    assert answer.status_code == 302
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    code = parse_qs(target.query)["code"][0]
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app_id,
            "code_verifier": VERIFIER,
        },
    )
    assert token.status_code == 200, token.text
    assert len(app_grants(lib, app_id)) == 1


def test_a_code_and_a_denial_say_which_server_answered(app_world):
    client, _, alice, _, app_id, headers = app_world
    answer = approve(client, headers, authorize_query(app_id), [alice])
    assert parse_qs(urlsplit(answer.headers["location"]).query)["iss"] == [LOCAL]
    denied = approve(client, headers, authorize_query(app_id), [alice], decision="deny")
    params = parse_qs(urlsplit(denied.headers["location"]).query)
    assert params["error"] == ["access_denied"] and params["iss"] == [LOCAL]


def test_the_authorization_servers_metadata(app_world):
    client, *_ = app_world
    meta = client.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == LOCAL
    assert meta["authorization_endpoint"] == f"{LOCAL}/oauth/authorize"
    assert meta["token_endpoint"] == f"{LOCAL}/oauth/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert set(meta["scopes_supported"]) == {
        "generate-stylized",
        "generate-photoreal",
        "generate-video",
    }


def test_a_browser_app_may_call_from_its_own_origin_and_no_other(app_world):
    client, _, alice, _, app_id, headers = app_world
    code = code_for(client, headers, app_id, [alice])
    own, evil = "http://127.0.0.1:9999", "https://evil.example"
    preflight = {"access-control-request-method": "POST"}
    allowed = client.options("/api/app/v1/generate", headers={"origin": own, **preflight})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == own
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = client.options("/oauth/token", headers={"origin": evil, **preflight})
    assert "access-control-allow-origin" not in refused.headers
    client.cookies.clear()
    token = client.post("/oauth/token", data=token_form(app_id, code), headers={"origin": own})
    assert token.status_code == 200
    assert token.headers["access-control-allow-origin"] == own
    assert "access-control-allow-credentials" not in token.headers
    # The owner's own API is no app's: no CORS there, whatever the origin.
    people = client.get("/api/people", headers={"origin": own})
    assert "access-control-allow-origin" not in people.headers


def test_a_401_tells_the_app_how_to_authenticate(app_world):
    client, *_ = app_world
    app = as_app(client)
    bare = app.get("/api/app/v1/people")
    assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer ")
    wrong = app.get("/api/app/v1/people", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


def test_an_approval_lasts_at_most_the_documented_90_days(app_world):
    client, lib, alice, _, app_id, headers = app_world
    query = authorize_query(app_id)
    form = {**query, "csrf_token": headers["X-CSRF-Token"], "decision": "allow"}
    year = client.post(
        "/oauth/authorize",
        data={**form, "days": "365", "person": [str(alice)]},
        follow_redirects=False,
    )
    assert year.status_code == 400 and "1 to 90 days" in year.text
    assert app_grants(lib, app_id) == []
    quarter = client.post(
        "/oauth/authorize",
        data={**form, "days": "90", "person": [str(alice)]},
        follow_redirects=False,
    )
    assert quarter.status_code == 302 and len(app_grants(lib, app_id)) == 1
    page = client.get("/oauth/authorize", params=query)
    offered = sorted(int(d) for d in re.findall(r'option value="(\d+)"', page.text))
    assert offered == [1, 7, 30, 90]


def test_an_approval_naming_someone_who_does_not_exist_signs_nothing(app_world):
    client, lib, alice, _, app_id, headers = app_world
    refused = approve(client, headers, authorize_query(app_id), [alice, 987654])
    assert refused.status_code == 400 and "only people this page offers" in refused.text
    assert app_grants(lib, app_id) == []


def test_the_approval_page_may_send_its_form_on_to_the_app_only(app_world):
    client, _, _, _, app_id, _ = app_world
    page = client.get("/oauth/authorize", params=authorize_query(app_id))
    policy = page.headers["content-security-policy"]
    assert "form-action 'self' http://127.0.0.1:9999;" in policy
    assert "frame-ancestors 'none'" in policy


def test_an_app_has_its_own_share_of_the_queue_and_the_owner_goes_first(idle_app_world):
    """One app filling its share (2 jobs) is refused a third (429) while the owner still
    queues; the owner's queued job runs before the app's older ones."""
    client, _, alice, _, app_id, headers = idle_app_world
    bearer = token_for(client, headers, app_id, [alice])
    body = {"prompt": f"@{alice} on a postcard", "style": "watercolor", "steps": 1}
    app = TestClient(client.app, base_url=LOCAL)
    queued = [app.post("/api/app/v1/generate", json=body, headers=bearer) for _ in range(2)]
    assert [q.status_code for q in queued] == [202, 202]
    full = app.post("/api/app/v1/generate", json=body, headers=bearer)
    assert full.status_code == 429 and int(full.headers["retry-after"]) > 0
    assert "this app's" in full.json()["detail"]
    scenery = {"prompt": "a lighthouse at dusk", "style": "watercolor", "steps": 1}
    mine = client.post("/api/jobs/generate", json=scenery, headers=headers)
    assert mine.status_code == 202 and mine.json()["requester"] == "owner"
    assert client.app.state.jobs.next_to_run() == mine.json()["id"]


def test_an_app_cancels_its_own_jobs_only_and_the_owner_any(idle_app_world):
    client, _, alice, _, app_id, headers = idle_app_world
    bearer = token_for(client, headers, app_id, [alice])
    body = {"prompt": f"@{alice} on a postcard", "style": "watercolor", "steps": 1}
    app = TestClient(client.app, base_url=LOCAL)
    its = app.post("/api/app/v1/generate", json=body, headers=bearer).json()["id"]
    scenery = {"prompt": "a lighthouse at dusk", "style": "watercolor", "steps": 1}
    mine = client.post("/api/jobs/generate", json=scenery, headers=headers).json()["id"]
    assert app.post(f"/api/app/v1/jobs/{mine}/cancel", headers=bearer).status_code == 404
    cancelled = app.post(f"/api/app/v1/jobs/{its}/cancel", headers=bearer)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.get(f"/api/jobs/{mine}").json()["state"] == "queued"
    again = app.post("/api/app/v1/generate", json=body, headers=bearer).json()["id"]
    by_owner = client.post(f"/api/jobs/{again}/cancel", headers=headers)
    assert by_owner.json()["state"] == "cancelled"
    assert client.post(f"/api/jobs/{mine}/cancel").status_code == 403  # no CSRF token


def test_revoking_an_app_or_its_grant_cancels_its_queued_jobs(idle_app_world):
    client, lib, alice, _, app_id, headers = idle_app_world
    body = {"prompt": f"@{alice} on a postcard", "style": "watercolor", "steps": 1}
    nobody = {"prompt": "a lighthouse at dusk", "style": "watercolor", "steps": 1}
    app = TestClient(client.app, base_url=LOCAL)
    first = token_for(client, headers, app_id, [alice])
    grant = app_grants(lib, app_id)[0]
    resting = app.post("/api/app/v1/generate", json=body, headers=first).json()["id"]
    second = token_for(client, headers, app_id, [alice])
    other = app.post("/api/app/v1/generate", json=body, headers=second).json()["id"]
    client.post(f"/api/consent/grants/{grant.id}/revoke", json={}, headers=headers)
    assert client.get(f"/api/jobs/{resting}").json()["state"] == "cancelled"
    assert client.get(f"/api/jobs/{other}").json()["state"] == "queued"
    # A prompt naming no one passes the gate; revoking the app cancels it all the same.
    scenery = app.post("/api/app/v1/generate", json=nobody, headers=second).json()["id"]
    assert client.post(f"/api/apps/{app_id}/revoke", headers=headers).status_code == 200
    for job in (other, scenery):
        view = client.get(f"/api/jobs/{job}").json()
        assert view["state"] == "cancelled" and "revoked" in view["message"]


def test_an_app_job_left_queued_does_not_run_once_its_grant_is_gone(idle_app_world):
    """Revoked from the command line, where no server is told: the job asks again when it
    runs, held to the token's grants, and stops although another grant covers her."""
    from likeness.consent.grants import revoke_grant
    from likeness.server.jobs import FAILED, run_job

    client, lib, alice, _, app_id, headers = idle_app_world
    bearer = token_for(client, headers, app_id, [alice])
    grant = app_grants(lib, app_id)[0]
    token_for(client, headers, app_id, [alice])  # another approval: another grant in force
    body = {"prompt": f"@{alice} on a postcard", "style": "watercolor", "steps": 1}
    app = TestClient(client.app, base_url=LOCAL)
    job = app.post("/api/app/v1/generate", json=body, headers=bearer).json()["id"]
    revoke_grant(lib, grant.id, "revoked at the command line")
    run_job(str(lib.home), job)
    view = client.get(f"/api/jobs/{job}").json()
    assert view["state"] == FAILED and "withdrawn" in view["message"]


def test_an_app_cannot_slip_a_person_into_the_approval(app_world):
    """A ``person`` in the authorization URL was once carried into the approval form as a
    hidden field, and signed for without the owner ticking it."""
    client, lib, alice, grace, app_id, headers = app_world
    page = client.get("/oauth/authorize", params={**authorize_query(app_id), "person": alice})
    assert page.status_code == 200
    assert not re.search(r'type="hidden" name="person"', page.text)
    assert (
        'name="extra"'
        not in client.get("/oauth/authorize", params={**authorize_query(app_id), "extra": "x"}).text
    )
    # Nor can a person the page does not offer be sent: a hidden one, or a minor.
    hide_person(lib, alice, True)
    refused = approve(client, headers, authorize_query(app_id), [grace, alice])
    assert refused.status_code == 400 and "offers" in refused.text
    assert app_grants(lib, app_id) == []


def test_a_redirect_uri_is_one_a_browser_reads_as_this_check_does(app_world):
    client, _, _, _, _, headers = app_world
    for uri in (
        "http://x;frame-ancestors * @127.0.0.1:9999/cb",  # would write into the page's CSP
        "http://evil.example\\@127.0.0.1/cb",  # a browser's host: evil.example
        "http://user@127.0.0.1:9999/cb",
        "https://app.example:port/cb",
        "https://app_example.com/cb",
        "https://app.example/cb#frag",
    ):
        answer = client.post(
            "/api/apps", json={"name": "Odd", "redirect_uri": uri}, headers=headers
        )
        assert answer.status_code == 400, uri
    ok = client.post(
        "/api/apps",
        json={"name": "Fine", "redirect_uri": "https://app.example:443/cb"},
        headers=headers,
    ).json()
    page = client.get(
        "/oauth/authorize",
        params={**authorize_query(ok["id"]), "redirect_uri": "https://app.example:443/cb"},
    )
    assert "form-action 'self' https://app.example;" in page.headers["content-security-policy"]


def test_odd_input_to_the_oauth_endpoints_is_refused_not_a_server_error(app_world):
    client, lib, alice, _, app_id, headers = app_world
    form = {**authorize_query(app_id), "csrf_token": headers["X-CSRF-Token"], "decision": "allow"}
    for extra in ({"person": ["\u00b2"]}, {"person": ["9" * 5000]}, {"days": "\u00b3"}):
        answer = client.post("/oauth/authorize", data={**form, "days": "30", **extra})
        assert 400 <= answer.status_code < 500, extra
    for bad in ("\u00b2", "a\tb", "\x00"):
        page = client.get(
            "/oauth/authorize", params={**authorize_query(app_id), "response_type": bad}
        )
        assert 400 <= page.status_code < 500 or page.status_code == 302, bad
    upload = client.post(
        "/oauth/token",
        files={"code": ("code.txt", b"x")},
        data={"grant_type": "authorization_code", "client_id": app_id},
    )
    assert upload.status_code == 400 and upload.json()["error"] == "invalid_request"
    assert app_grants(lib, app_id) == []
    bearer = token_for(client, headers, app_id, [alice])
    app = as_app(client)
    for prompt in ("@\u00b2 at sea", "@1\u00b9 at sea"):
        body = {"prompt": prompt, "style": "watercolor", "steps": 1}
        assert app.post("/api/app/v1/generate", json=body, headers=bearer).status_code == 400
    lone = b'{"prompt": "\\ud800 at sea", "style": "watercolor", "steps": 1}'
    answer = app.post(
        "/api/app/v1/generate",
        content=lone,
        headers={**bearer, "content-type": "application/json"},
    )
    assert answer.status_code in (202, 422), answer.status_code


def test_an_approval_is_checked_whole_before_anything_is_signed(app_world):
    """``apps.approve`` itself, for callers other than the page: an unknown person, a minor or
    too long a duration refuses it all, the people before them included."""
    import pytest

    from likeness.apps import registry as apps

    _, lib, alice, grace, app_id, _ = app_world
    set_minor(lib, grace)
    scopes = ["generate-stylized"]
    for people, days, why in (
        ([alice, 987654], 30, "no person with id 987654"),
        ([alice, grace], 30, "minor"),
        ([alice], 91, "1 to 90 days"),
    ):
        with pytest.raises(apps.AppError, match=why):
            apps.approve(lib, app_id, people, scopes, days)
    assert app_grants(lib, app_id) == []
