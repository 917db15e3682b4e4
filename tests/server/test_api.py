"""The local server's API through FastAPI's test client: a real library (SQLite, imported
photos, people), real scrypt hashing, the real session and CSRF checks."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from likeness.server.owner import (
    PassphraseError,
    check_owner_passphrase,
    set_owner_passphrase,
)
from likeness.server.sessions import (
    CSRF_HEADER,
    SIGN_IN_BASE_DELAY_S,
    SIGN_IN_FREE_FAILURES,
    SessionStore,
)
from likeness.store.tables import Setting
from likeness.testing.server import PASSPHRASE, signed_in


def sign_in(client: TestClient) -> str:
    """Sign in; the session's CSRF token."""
    return signed_in(client)[CSRF_HEADER]


def test_the_passphrase_is_stored_as_a_scrypt_hash_only(world):
    _, lib, _, _ = world
    with lib.session() as s:
        stored = s.get(Setting, "owner_passphrase").value
    assert stored.startswith("scrypt$") and PASSPHRASE not in stored
    assert check_owner_passphrase(lib, PASSPHRASE)
    assert not check_owner_passphrase(lib, PASSPHRASE + "!")
    with pytest.raises(PassphraseError, match="at least"):
        set_owner_passphrase(lib, "short")


def test_health_needs_no_sign_in_and_people_do(world):
    client, _, _, _ = world
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/api/people").status_code == 401
    assert client.get("/api/session").status_code == 401


def test_sign_in_sets_a_strict_httponly_cookie(world):
    client, _, alice, grace = world
    response = client.post("/api/sign-in", json={"passphrase": PASSPHRASE})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    people = client.get("/api/people").json()
    assert {p["id"]: p["name"] for p in people} == {alice: "Alice", grace: "Grace Hopper"}
    assert [p["is_owner"] for p in people if p["id"] == alice] == [True]


def test_a_wrong_passphrase_is_refused_and_later_tries_wait_their_turn(world):
    """Past the free failures a try is slowed, not refused: it waits its turn, then is
    checked (the parallel attack and the owner's own count: test_hardening.py)."""
    client, _, _, _ = world
    for _ in range(SIGN_IN_FREE_FAILURES):
        last_turn = time.monotonic()
        assert client.post("/api/sign-in", json={"passphrase": "wrong guess!"}).status_code == 401
    assert client.get("/api/people").status_code == 401
    late = client.post("/api/sign-in", json={"passphrase": PASSPHRASE})
    assert late.status_code == 200
    # Its turn came a delay after the last failed try's.
    assert time.monotonic() - last_turn >= SIGN_IN_BASE_DELAY_S


def test_a_state_change_without_the_csrf_token_is_refused(world):
    client, _, alice, _ = world
    token = sign_in(client)
    assert client.patch(f"/api/people/{alice}", json={"name": "Mallory"}).status_code == 403
    wrong = {CSRF_HEADER: token[:-2] + "xx"}
    assert (
        client.patch(f"/api/people/{alice}", json={"name": "Mallory"}, headers=wrong).status_code
        == 403
    )
    assert client.get(f"/api/people/{alice}").json()["name"] == "Alice"
    ok = client.patch(
        f"/api/people/{alice}", json={"name": "Alice B"}, headers={CSRF_HEADER: token}
    )
    assert ok.status_code == 200 and ok.json()["name"] == "Alice B"


def test_people_edits_go_through_the_library(world):
    client, _, alice, grace = world
    headers = {CSRF_HEADER: sign_in(client)}
    assert client.patch(f"/api/people/{grace}", json={"hidden": True}, headers=headers).json()[
        "hidden"
    ]
    assert [p["id"] for p in client.get("/api/people").json()] == [alice]
    assert len(client.get("/api/people?include_hidden=true").json()) == 2
    me = client.post(f"/api/people/{grace}/me", headers=headers).json()
    assert me["is_owner"] and not client.get(f"/api/people/{alice}").json()["is_owner"]
    # Split one face off Alice, then merge it back.
    from likeness.faces.listing import list_faces

    _, lib, _, _ = world
    face = next(f["id"] for f in list_faces(lib) if f["person"] == alice)
    before = client.get(f"/api/people/{alice}").json()["face_count"]
    split = client.post(f"/api/people/{alice}/split", json={"face_ids": [face]}, headers=headers)
    assert split.status_code == 201 and split.json()["face_count"] == 1
    part = split.json()["id"]
    [preview] = client.get(f"/api/people/{alice}/merge-preview?other={part}").json()
    assert (preview["faces_moving"], preview["refusal"]) == (1, None)
    assert client.get(f"/api/people/{part}/similar").json()[0]["id"] == alice
    merged = client.post(f"/api/people/{alice}/merge", json={"other": part}, headers=headers)
    assert merged.json()["face_count"] == before
    assert client.get(f"/api/people/{part}").status_code == 404
    # The merge is listed, and undone: the person is back under their id.
    merge_id = int(merged.headers["X-Merge-Id"])
    assert [m["id"] for m in client.get("/api/people/merges").json()] == [merge_id]
    undone = client.post(f"/api/people/merges/{merge_id}/undo", headers=headers)
    assert undone.json()["person"]["id"] == part and undone.json()["faces_restored"] == 1
    again = client.post(f"/api/people/merges/{merge_id}/undo", headers=headers)
    assert again.status_code == 409 and "undone already" in again.json()["detail"]
    client.post(f"/api/people/{alice}/merge", json={"other": part}, headers=headers)


def test_bad_edits_get_clear_errors(world):
    client, _, alice, grace = world
    headers = {CSRF_HEADER: sign_in(client)}
    missing = client.patch("/api/people/999999", json={"name": "X"}, headers=headers)
    assert missing.status_code == 404 and "no person with id 999999" in missing.json()["detail"]
    itself = client.post(f"/api/people/{alice}/merge", json={"other": alice}, headers=headers)
    assert itself.status_code == 400 and "itself" in itself.json()["detail"]
    assert (
        client.patch(f"/api/people/{alice}", json={"name": ""}, headers=headers).status_code == 422
    )
    not_hers = client.post(
        f"/api/people/{grace}/split", json={"face_ids": [999999]}, headers=headers
    )
    assert not_hers.status_code == 400 and "do not belong" in not_hers.json()["detail"]


def test_sign_out_ends_the_session(world):
    client, _, _, _ = world
    token = sign_in(client)
    assert client.get("/api/session").json() == {"csrf_token": token}
    assert client.post("/api/sign-out", headers={CSRF_HEADER: token}).status_code == 204
    assert client.get("/api/people").status_code == 401


def test_sessions_expire():
    now = [0.0]
    store = SessionStore(ttl_s=10, clock=lambda: now[0])
    token, _ = store.start()
    assert store.get(token) is not None
    now[0] = 10.0
    assert store.get(token) is None and store.get("not-a-token") is None


def test_every_route_but_sign_in_health_and_oauth_needs_a_session(world):
    """Walk the OpenAPI schema: no route answers without a session cookie (an app's routes,
    /api/app/v1/..., without its bearer token), except sign-in, health and the OAuth
    endpoints: the approval page sends to sign-in, the token endpoint takes a code, and the
    authorization server's metadata is public (RFC 8414)."""
    client, _, alice, _ = world
    schema = client.get("/openapi.json").json()
    assert (
        client.get("/oauth/authorize", follow_redirects=False)
        .headers["location"]
        .startswith("/sign-in")
    )
    assert client.post("/oauth/authorize", data={}).status_code == 401
    assert client.post("/oauth/token", data={}).status_code == 400
    open_routes = {"/health", "/api/sign-in", "/openapi.json"}
    open_routes |= {"/oauth/authorize", "/oauth/token", "/.well-known/oauth-authorization-server"}
    open_routes |= {"/api/me/sign-in/options", "/api/me/sign-in", "/tls/ca.pem"}
    assert client.post("/api/me/sign-in", json={}).status_code == 400  # not a credential
    assert client.get("/tls/ca.pem").status_code == 404  # not served over HTTPS
    for path, methods in schema["paths"].items():
        if path in open_routes:
            continue
        fill = {
            "person_id": alice,
            "face_id": 1,
            "photo_id": 1,
            "index": 0,
            "job_id": "0" * 32,
            "grant_id": "0" * 32,
            "app_id": "0" * 32,
            "invitation_id": "0" * 32,
            "adapter_id": "0" * 32,
            "passkey_id": "AAAA",
            "request_id": "0" * 32,
            "merge_id": 1,
        }
        url = path.format(**fill)
        for method in methods:
            response = client.request(method.upper(), url, json={})
            assert response.status_code == 401, (method, path, response.status_code)


def test_faces_of_a_person_and_their_thumbnails(world):
    import io

    from PIL import Image

    client, _, alice, _ = world
    sign_in(client)
    faces = client.get(f"/api/faces?person={alice}").json()
    assert faces and all(f["person"] == alice for f in faces)
    thumb = client.get(f"/api/faces/{faces[0]['id']}/thumbnail?size=96")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (96, 96)
    missing = client.get("/api/faces/999999/thumbnail")
    assert missing.status_code == 404 and "no face with id 999999" in missing.json()["detail"]
    assert client.get(f"/api/faces/{faces[0]['id']}/thumbnail?size=5000").status_code == 422


def test_a_thumbnail_of_a_photo_that_is_gone_says_so(world):
    client, lib, alice, _ = world
    sign_in(client)
    face = client.get(f"/api/faces?person={alice}").json()[0]
    from likeness.library.tables import PhotoFile

    with lib.session() as s:
        for row in s.query(PhotoFile).filter(PhotoFile.photo_id == face["photo_id"]):
            row.location = b"/nonexistent/gone.jpg"
    gone = client.get(f"/api/faces/{face['id']}/thumbnail")
    assert gone.status_code == 404 and "cannot read" in gone.json()["detail"]


def test_moving_faces_to_nobody_and_back(world):
    client, _, alice, _ = world
    headers = {CSRF_HEADER: sign_in(client)}
    face = client.get(f"/api/faces?person={alice}").json()[0]["id"]
    moved = client.post(
        "/api/faces/move", json={"face_ids": [face], "person": None}, headers=headers
    )
    assert moved.json() == {"moved": 1}
    assert face in [f["id"] for f in client.get("/api/faces?unassigned=true").json()]
    back = client.post(
        "/api/faces/move", json={"face_ids": [face], "person": alice}, headers=headers
    )
    assert back.json() == {"moved": 1}
    no_csrf = client.post("/api/faces/move", json={"face_ids": [face], "person": None})
    assert no_csrf.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2f%2e%2e%2fstore%2fhome.py",
        "/static//etc/passwd",
    ],
)
def test_static_files_do_not_leave_their_folder(world, path):
    client, _, _, _ = world
    response = client.get(path)
    assert response.status_code == 404
    assert b"import" not in response.content and b"root:" not in response.content


def test_a_page_without_a_session_goes_to_sign_in(world):
    client, _, alice, _ = world
    for page in ("/people", f"/people/{alice}", "/faces/unassigned", "/jobs"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/sign-in?next="
        )
    assert client.get("/sign-in").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_grants_issued_listed_and_revoked_through_the_api(world):
    client, lib, alice, grace = world
    headers = {CSRF_HEADER: sign_in(client)}
    issued = client.post(
        "/api/consent/grants",
        json={
            "person": grace,
            "scopes": ["generate-stylized"],
            "trust": "attested",
            "expires_days": 30,
        },
        headers=headers,
    )
    assert issued.status_code == 201, issued.text
    grant = issued.json()
    assert grant["in_force"] and grant["person"] == grace and grant["expires_at"]
    assert [g["id"] for g in client.get(f"/api/consent/grants?person={grace}").json()] == [
        grant["id"]
    ]
    assert client.get(f"/api/consent/grants?person={alice}").json() == []
    revoked = client.post(
        f"/api/consent/grants/{grant['id']}/revoke",
        json={"reason": "changed my mind"},
        headers=headers,
    )
    assert revoked.json() == {"revoked": True}
    again = client.post(f"/api/consent/grants/{grant['id']}/revoke", json={}, headers=headers)
    assert again.json() == {"revoked": False}
    listed = client.get("/api/consent/grants").json()
    assert listed[0]["revoked_at"] and not listed[0]["in_force"]
    report = client.get("/api/consent/audit").json()
    assert report["ok"] and [e["kind"] for e in report["recent"]][-2:] == ["grant", "revoke"]
    # The gate now denies (the same gate generation takes its Decision from).
    from likeness.consent.policy import authorize

    assert not authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed


def test_bad_grant_requests_are_refused(world):
    client, _, _, grace = world
    headers = {CSRF_HEADER: sign_in(client)}
    verified_without_enrolment = client.post(
        "/api/consent/grants",
        json={"person": grace, "scopes": ["train-adapter"], "trust": "verified"},
        headers=headers,
    )
    assert verified_without_enrolment.status_code == 400
    assert "live enrolment" in verified_without_enrolment.json()["detail"]
    unknown_scope = client.post(
        "/api/consent/grants",
        json={"person": grace, "scopes": ["everything"], "trust": "attested"},
        headers=headers,
    )
    assert unknown_scope.status_code == 422
    nobody = client.post(
        "/api/consent/grants",
        json={"person": 999999, "scopes": ["train-adapter"], "trust": "attested"},
        headers=headers,
    )
    assert nobody.status_code == 404
    assert (
        client.post(
            "/api/consent/grants/" + "0" * 32 + "/revoke", json={}, headers=headers
        ).status_code
        == 404
    )
    traversal = client.post("/api/consent/grants/..%2F..%2Fetc/revoke", json={}, headers=headers)
    assert traversal.status_code in (404, 422)


def test_a_one_time_sign_in_link_works_once(world):
    client, _, alice, _ = world
    token = client.app.state.sessions.issue_link()
    first = client.get(f"/sign-in/link/{token}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/people"
    assert "httponly" in first.headers["set-cookie"].lower()
    assert alice in [p["id"] for p in client.get("/api/people").json()]
    client.cookies.clear()
    again = client.get(f"/sign-in/link/{token}", follow_redirects=False)
    assert again.headers["location"] == "/sign-in"
    assert client.get("/api/people").status_code == 401
    assert client.get("/sign-in/link/made-up", follow_redirects=False).headers["location"] == (
        "/sign-in"
    )


def test_a_one_time_link_expires():
    now = [0.0]
    store = SessionStore(clock=lambda: now[0])
    token = store.issue_link(ttl_s=5)
    now[0] = 6.0
    assert not store.redeem_link(token)
