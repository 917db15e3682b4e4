"""People consenting for themselves: an invitation, a live enrolment, a passkey, their own
page; and each way in an attacker would try (a guessed, replayed, revoked or expired link, a
session reaching another person or the owner's routes, a passkey that is not theirs, the
owner signing for a person with an account), refused.

The passkeys are made by a software authenticator (``likeness.testing.authenticator``) and
verified by the real ``webauthn`` library; the enrolment is a real one, from a clip rendered
to follow the session drawn for the invitee (as the enrolment tests do)."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from likeness import clock
from likeness.consent import invitations
from likeness.consent.enrolment import enrol_from_video, open_live_enrolment, start_enrolment
from likeness.consent.grants import Scope, Trust, issue_grant, list_grants
from likeness.consent.tables import AuditEntry
from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.server.sessions import CSRF_HEADER
from likeness.testing import clips
from likeness.testing.authenticator import SoftAuthenticator
from likeness.testing.libraries import copy_home
from likeness.testing.photos import astronaut
from likeness.testing.server import LOCAL, PASSPHRASE, signed_in


def _invite(client, person: int, **body) -> dict:
    headers = signed_in(client)
    response = client.post(f"/api/people/{person}/invitations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    client.cookies.clear()  # the owner's browser is not the person's
    return response.json()


def _token(invitation: dict) -> str:
    return invitation["url"].rsplit("/", 1)[1]


def _open(client, invitation: dict):
    return client.post(f"/invite/{_token(invitation)}", follow_redirects=False)


#: An honest live check of the astronaut is refused now and then on depth evidence ("moved
#: the face like a bent or folded picture": about one session in twenty drawn by the
#: default suite; issue 24 measures and works on exactly this). A test of what comes *after*
#: a live check draws up to this many fresh sessions, each drawn and followed as the first.
LIVE_TRIES = 3


def _live_check_as_the_astronaut(
    client, lib, person: int, photo=None, headers: dict[str, str] | None = None
) -> str:
    """A live check drawn by ``client``'s own session (``/api/me/enrolment/live``) and
    passed by the astronaut (Alice) following its prompts as they show, as on her phone:
    the frames go through the same ``LiveEnrolment`` the WebSocket feeds, on a clock that
    keeps to the frames' times (a socket would make the test wait in real time). The
    enrolment's id (see ``LIVE_TRIES``)."""
    refusals = []
    for _ in range(LIVE_TRIES):
        drawn = client.post("/api/me/enrolment/live", headers=headers or _csrf(client))
        assert drawn.status_code == 201, drawn.text
        assert drawn.json()["person"] == person
        result = _live_result(lib, person, drawn.json()["session"], photo)
        if result.passed:
            return result.id
        refusals.append(result.reason)
    pytest.fail(f"{LIVE_TRIES} honest live checks were refused: {refusals}")


def _live_result(lib, person: int, session_id: str, photo=None):
    """A live check followed by the face of ``photo`` (default: the astronaut's)."""
    pixels, face = clips.prepared(photo or astronaut())
    live = open_live_enrolment(lib, person, session_id)
    you = clips.LivePerson(pixels, face.landmarks)
    now = [0.0]
    live.check.clock = lambda: now[0]
    for i in range(45 * 10):
        t = i / 10
        now[0] = t + 0.05
        you.see(now[0], live.feed(t, you.frame(t)))
        if live.done:
            break
    return live.finish()


def _enrol_as_the_astronaut(lib, person: int, workdir) -> str:
    """A passed enrolment of the astronaut from a *recorded* clip (its schedule shown
    beforehand), as ``likeness consent enrol --video`` records: what the owner could make
    himself, and what a person's account must not rest on."""
    pixels, face = clips.prepared(astronaut())
    session = start_enrolment(lib, person)
    video = clips.write_video(
        clips.honest_frames(pixels, face.landmarks, session), workdir / "enrolment.mp4"
    )
    result = enrol_from_video(lib, person, session.id, video)
    assert result.passed, result.reason
    return result.id


def _csrf(client, path: str = "/me/welcome") -> dict[str, str]:
    """The CSRF header of the client's session (the page renders it; read it back here)."""
    page = client.get(path)
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return {CSRF_HEADER: page.text[start : page.text.index('"', start)]}


def _register(client, authenticator: SoftAuthenticator) -> dict:
    headers = _csrf(client)
    options = client.post("/api/me/passkeys/options", headers=headers)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json(), LOCAL)
    return client.post("/api/me/passkeys", json=credential, headers=headers)


def _with_an_account(client, lib, person: int, photo=None):
    """The person (the astronaut's group, or ``photo``'s) invited, live-checked and
    registered on ``client``: (the CSRF header of their session, their authenticator, the
    enrolment)."""
    _open(client, _invite(client, person))
    enrolment = _live_check_as_the_astronaut(client, lib, person, photo)
    authenticator = SoftAuthenticator()
    registered = _register(client, authenticator)
    assert registered.status_code == 201, registered.text
    return {CSRF_HEADER: registered.json()["csrf_token"]}, authenticator, enrolment


def _sign_in(client, authenticator: SoftAuthenticator, **kwargs):
    options = client.post("/api/me/sign-in/options")
    assert options.status_code == 200, options.text
    return client.post("/api/me/sign-in", json=authenticator.get(options.json(), LOCAL, **kwargs))


@pytest.fixture(scope="module")
def alice_account(prepared, tmp_path_factory):
    """The prepared library where Alice was invited, passed a live check and made a passkey,
    once for the module: (its home, her authenticator, her enrolment). A live check takes
    about 5 s, and most tests here need a person with an account, not the way to one (which
    ``test_an_invited_person_enrols_makes_a_passkey_signs_in_and_decides_for_themselves``
    walks). A test that signs a grant runs its own: a grant rests on a live check drawn in
    the same browser session (``server.me._check_drawn_here``)."""
    home, alice, _ = prepared
    made = tmp_path_factory.mktemp("alice-account") / "home"
    lib = copy_home(home, made)
    set_owner_passphrase(lib, PASSPHRASE)
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        _, authenticator, enrolment = _with_an_account(client, lib, alice)
    lib.close()
    return made, authenticator, enrolment


@pytest.fixture
def alice_world(alice_account, prepared, tmp_path):
    """A copy of ``alice_account``'s library, and a client of its server where Alice signed
    in with her passkey: (client, lib, alice, grace, her session's CSRF header, her
    authenticator, her enrolment)."""
    made, authenticator, enrolment = alice_account
    _, alice, grace = prepared
    lib = copy_home(made, tmp_path / "home")
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        signed = _sign_in(client, authenticator)
        assert signed.status_code == 200, signed.text
        headers = {CSRF_HEADER: signed.json()["csrf_token"]}
        yield client, lib, alice, grace, headers, authenticator, enrolment
    lib.close()


def _audit(lib) -> list[tuple[str, dict]]:
    with lib.session() as s:
        return [(e.kind, json.loads(e.payload)) for e in s.scalars(select(AuditEntry))]


def test_an_invited_person_enrols_makes_a_passkey_signs_in_and_decides_for_themselves(
    world, tmp_path
):
    client, lib, alice, grace = world
    invitation = _invite(client, alice, hours=24)
    assert invitation["status"] == "pending" and invitation["qr_svg"].startswith("data:image/svg")
    # The link's page says what it is for and spends nothing (a chat app's preview fetch).
    assert client.get(f"/invite/{_token(invitation)}").status_code == 200
    opened = _open(client, invitation)
    assert opened.status_code == 303 and opened.headers["location"] == "/me/welcome"

    # No passkey before the live check passes.
    authenticator = SoftAuthenticator()
    refused = _register(client, authenticator)
    assert refused.status_code == 400 and "live enrolment" in refused.json()["detail"]
    # A recorded clip's enrolment (what the owner could make) does not make her account.
    recorded = _enrol_as_the_astronaut(lib, alice, tmp_path)
    refused = _register(client, authenticator)
    assert refused.status_code == 400 and "live enrolment" in refused.json()["detail"]
    # The invitee draws a live session for their own group only (checked in the helper),
    # and passes it.
    enrolment = _live_check_as_the_astronaut(client, lib, alice)
    registered = _register(client, authenticator)
    assert registered.status_code == 201, registered.text
    assert registered.json()["person"] == alice

    # Signed in as Alice: her page, none of the owner's.
    headers = {CSRF_HEADER: registered.json()["csrf_token"]}
    assert client.get("/api/me").json()["person"] == alice
    assert client.get("/api/people").status_code == 403
    assert client.get("/me").status_code == 200
    # Not on the recorded clip's enrolment, which her browser did not run.
    for body in ({"scopes": ["train-adapter"], "enrolment": recorded},):
        refused = client.post("/api/me/grants", json=body, headers=headers)
        assert refused.status_code == 400 and "live check" in refused.json()["detail"]
    # She signs a grant herself, and withdraws it.
    signed = client.post(
        "/api/me/grants",
        json={"scopes": ["train-adapter"], "enrolment": enrolment},
        headers=headers,
    )
    assert signed.status_code == 201, signed.text
    grant = signed.json()
    assert grant["trust"] == "verified" and grant["in_force"]
    withdrawn = client.post(f"/api/me/grants/{grant['id']}/revoke", json={}, headers=headers)
    assert withdrawn.json() == {"revoked": True}
    assert not next(g for g in client.get("/api/me").json()["grants"] if g["id"] == grant["id"])[
        "in_force"
    ]

    # Signed out, back in with the passkey alone.
    assert client.post("/api/me/sign-out", headers=headers).status_code == 204
    assert client.get("/api/me").status_code == 401
    again = _sign_in(client, authenticator)
    assert again.status_code == 200 and again.json()["person"] == alice
    assert client.get("/api/me").json()["person"] == alice

    # The owner can no longer sign a grant for her, verified or not.
    client.cookies.clear()
    owner = signed_in(client)
    for body in (
        {"person": alice, "scopes": ["train-adapter"], "trust": "attested"},
        {"person": alice, "scopes": ["train-adapter"], "trust": "verified", "enrolment": enrolment},
    ):
        refused = client.post("/api/consent/grants", json=body, headers=owner)
        assert refused.status_code == 403 and "for themselves" in refused.json()["detail"]
    # The owner asks her instead; she approves on a live check of hers: verified.
    asked = client.post(
        f"/api/people/{alice}/grant-requests", json={"scopes": ["train-adapter"]}, headers=owner
    )
    assert asked.status_code == 201, asked.text
    refused = client.post(
        f"/api/people/{grace}/grant-requests", json={"scopes": ["train-adapter"]}, headers=owner
    )
    assert refused.status_code == 400 and "no account" in refused.json()["detail"]
    client.cookies.clear()
    _sign_in(client, authenticator)
    mine = _csrf(client, "/me")
    [waiting] = client.get("/api/me/requests").json()
    assert waiting["grantee_name"] == "the library's owner"
    # The live check she passed before signing in was another browser session's: refused.
    elsewhere = client.post(
        f"/api/me/requests/{waiting['id']}",
        json={"approve": True, "enrolment": enrolment},
        headers=mine,
    )
    assert elsewhere.status_code == 400 and "live check on this page" in elsewhere.text
    passed = _live_check_as_the_astronaut(client, lib, alice, headers=mine)
    approved = client.post(
        f"/api/me/requests/{waiting['id']}",
        json={"approve": True, "enrolment": passed},
        headers=mine,
    )
    assert approved.status_code == 200, approved.text
    grants_now = {g.id: g for g, _ in list_grants(lib, alice)}
    assert grants_now[approved.json()["grant"]].trust == "verified"
    client.cookies.clear()
    owner = signed_in(client)
    # ... while Grace, without an account, is still the owner's to sign for.
    issue_grant(lib, grace, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    # An app's approval page offers the owner Grace, not Alice (whose consent is hers).
    from likeness.server.oauth import offered_people

    assert {p.id for p in offered_people(lib)} == {grace}

    # The audit log says who acted at each step.
    by = [(kind, p.get("by")) for kind, p in _audit(lib) if "by" in p]
    person = f"person:{_uid(lib, alice)}"
    assert ("invite", "owner") in by
    assert ("invite-open", person) in by
    assert ("passkey", person) in by
    assert ("grant", person) in by and ("revoke", person) in by
    assert ("person-sign-in", person) in by
    assert ("grant", "owner") in by  # Grace's


def _uid(lib, person: int) -> str:
    from likeness.people.records import get_person

    with lib.session() as s:
        return get_person(s, person).uid


def test_an_invitation_link_guessed_replayed_revoked_or_expired_opens_nothing(world):
    client, lib, alice, _ = world
    guessed = client.post(f"/invite/{secrets.token_urlsafe(32)}", follow_redirects=False)
    assert guessed.status_code == 403 and "not valid" in guessed.text
    assert "likeness_session" not in guessed.cookies

    invitation = _invite(client, alice)
    # A form on another site posting the link (login CSRF) is refused, and spends nothing.
    for headers in (
        {"sec-fetch-site": "cross-site", "origin": "null"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    ):
        foreign = client.post(
            f"/invite/{_token(invitation)}", headers=headers, follow_redirects=False
        )
        assert foreign.status_code == 403 and "likeness_session" not in foreign.cookies
        assert "another site" in foreign.text
    assert _open(client, invitation).status_code == 303
    client.cookies.clear()
    replayed = _open(client, invitation)
    assert replayed.status_code == 403 and "likeness_session" not in replayed.cookies
    # Its page says so before anyone presses Start.
    page = client.get(f"/invite/{_token(invitation)}")
    assert page.status_code == 403 and "not valid" in page.text

    revoked = _invite(client, alice)
    headers = signed_in(client)
    assert client.post(f"/api/invitations/{revoked['id']}/revoke", headers=headers).json()[
        "revoked"
    ]
    client.cookies.clear()
    assert _open(client, revoked).status_code == 403
    # A link's words never say which of these it was (a guesser learns nothing).
    assert guessed.text.count("not valid") == replayed.text.count("not valid")

    _, token = invitations.invite_person(lib, alice, timedelta(minutes=5))
    later = clock.now() + timedelta(minutes=6)
    with pytest.raises(invitations.InvitationRefusedError):
        invitations.open_invitation(lib, token, now=later)
    # A token of the wrong shape is not even looked up.
    assert client.post("/invite/short", follow_redirects=False).status_code == 422


def test_an_invitees_session_reaches_only_its_own_group(world):
    client, lib, alice, grace = world
    _open(client, _invite(client, grace))
    headers = _csrf(client)
    # Not the owner's routes, not another group's enrolment, not a person's page yet.
    assert client.get("/api/people").status_code == 403
    assert client.get("/api/consent/grants").status_code == 403
    assert client.post(f"/api/people/{alice}/enrolment/live", headers=headers).status_code == 403
    assert client.get("/people", follow_redirects=False).headers["location"].startswith("/sign-in")
    assert client.get("/api/me").status_code == 401
    drawn = client.post("/api/me/enrolment/live", headers=headers).json()
    assert drawn["person"] == grace
    # The live socket for Alice's group is refused in the words used for a missing person.
    from starlette.websockets import WebSocketDisconnect

    session = start_enrolment(lib, alice, live=True).id
    url = f"ws://localhost/api/people/{alice}/enrolment/live/{session}?csrf={headers[CSRF_HEADER]}"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(url, headers={"origin": LOCAL}) as socket,
    ):
        socket.receive_text()
    assert refused.value.code == 1008 and refused.value.reason == f"no person with id {alice}"


def test_a_persons_session_cannot_touch_another_persons_grants(alice_world):
    client, lib, _, grace, headers, _, _ = alice_world
    graces = issue_grant(lib, grace, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    assert graces.id not in {g["id"] for g in client.get("/api/me").json()["grants"]}
    response = client.post(f"/api/me/grants/{graces.id}/revoke", json={}, headers=headers)
    assert response.status_code == 404  # as if it did not exist
    assert all(g.in_force(clock.now()) for g, _ in list_grants(lib, grace))
    # Without the CSRF token, not even her own.
    assert client.post("/api/me/grants", json={}, headers={}).status_code == 403


def test_a_passkey_that_is_not_registered_or_not_the_holders_key_is_refused(alice_world):
    client, _, _, _, _, alices, _ = alice_world
    client.cookies.clear()
    # A passkey this server never registered.
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AA"}, "challenge": "AA"}, LOCAL)
    refused = _sign_in(client, stranger)
    assert refused.status_code == 403 and "likeness_session" not in refused.cookies
    # Alice's credential id, signed by another key: someone else's passkey claiming hers.
    forged = stranger.credentials[0]
    forged.credential_id = alices.credentials[0].credential_id
    assert _sign_in(client, stranger, credential=forged).status_code == 403
    # An assertion for a challenge this server did not issue, or replayed.
    options = client.post("/api/me/sign-in/options").json()
    answer = alices.get(options, LOCAL)
    assert client.post("/api/me/sign-in", json=answer).status_code == 200
    client.cookies.clear()
    assert client.post("/api/me/sign-in", json=answer).status_code == 400
    # Made for another site (origin), it does not verify here.
    options = client.post("/api/me/sign-in/options").json()
    elsewhere = alices.get(options, "http://localhost:9999")
    assert client.post("/api/me/sign-in", json=elsewhere).status_code == 403


def test_passkeys_are_refused_over_plain_http_off_loopback_and_at_an_address(prepared, tmp_path):
    home, _, _ = prepared
    lib = copy_home(home, tmp_path / "home")
    app = create_app(lib, host="192.168.1.20", hosts=["photos.home.arpa"])
    with TestClient(app, base_url="http://photos.home.arpa") as client:
        response = client.post("/api/me/sign-in/options")
        assert response.status_code == 400 and "HTTPS" in response.json()["detail"]
    with TestClient(app, base_url="https://photos.home.arpa") as client:
        options = client.post("/api/me/sign-in/options")
        assert options.status_code == 200 and options.json()["rpId"] == "photos.home.arpa"
    # A relying party is a name: at an address (even over HTTPS) a browser refuses passkeys,
    # so the server says where to go instead.
    for base in ("https://192.168.1.20", "http://127.0.0.1"):
        with TestClient(app, base_url=base) as client:
            response = client.post("/api/me/sign-in/options")
            assert response.status_code == 400 and "localhost" in response.json()["detail"]
    lib.close()


def test_a_minor_is_not_invited_to_consent_alone(world):
    client, lib, _, grace = world
    from likeness.people import manage

    manage.set_minor(lib, grace, True)
    response = client.post(f"/api/people/{grace}/invitations", json={}, headers=signed_in(client))
    assert response.status_code == 400 and "guardian" in response.json()["detail"]


def test_a_persons_activity_says_what_happened_about_them_and_nothing_of_others(world):
    from likeness.consent.policy import authorize

    client, lib, alice, grace = world
    headers, _, enrolment = _with_an_account(client, lib, alice)
    grant = client.post(
        "/api/me/grants",
        json={"scopes": ["train-adapter"], "enrolment": enrolment},
        headers=headers,
    ).json()
    authorize(lib, "train-adapter", [alice], "owner", "tiny")  # allowed: her grant
    authorize(lib, "generate-stylized", [alice, grace], "owner", "tiny")  # refused
    client.post(f"/api/me/grants/{grant['id']}/revoke", json={}, headers=headers)
    items = client.get("/api/me/activity").json()
    words = [f"{i['actor']} {i['words']}".strip() for i in items]
    assert words[0].startswith("you withdrew permission " + grant["id"][:8])
    assert any(
        w.startswith("the library's owner asked to train an adapter on your photos: allowed")
        for w in words
    )
    both = next(w for w in words if "generate stylized images of you" in w)
    assert both.endswith("and 1 other person: refused"), both  # no reason: it names Grace
    assert (
        "you signed a permission for the library's owner to train an adapter on your photos "
        "(verified)" in words
    )
    assert "you made a passkey and an account here" in words
    assert "the library's owner invited you to consent for yourself" in words
    assert "live check passed" in words
    page = client.get("/me").text
    assert page.count("<h2>Activity</h2>") == 1 and page.index("<h2>") > page.index("<main")
    text = json.dumps(items) + page
    assert f"person {grace}" not in text and _uid(lib, grace) not in text
    assert "Grace" not in text and "Hopper" not in text
    # The owner's session has no activity of hers to read; nor has an invitee's.
    client.cookies.clear()
    signed_in(client)
    assert client.get("/api/me/activity").status_code == 401


@pytest.mark.slow  # two live checks or a trained library; `make test-all`
def test_a_person_lists_and_deletes_only_their_own_adapters(trained, tmp_path):
    from likeness.adapters.manage import list_adapters

    home, alice, grace = trained
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        headers, _, _ = _with_an_account(client, lib, alice)
        hers = {a.id for a in list_adapters(lib, alice)}
        listed = client.get("/api/me/adapters").json()
        assert {a["id"] for a in listed} == hers and hers
        assert "Delete" in client.get("/me").text
        graces = list_adapters(lib, grace)[0].id
        assert client.delete(f"/api/me/adapters/{graces}", headers=headers).status_code == 404
        assert client.delete(f"/api/me/adapters/{next(iter(hers))}").status_code == 403  # CSRF
        for adapter in hers:
            assert client.delete(f"/api/me/adapters/{adapter}", headers=headers).status_code == 204
        assert client.get("/api/me/adapters").json() == []
        assert [a.id for a in list_adapters(lib, grace)] == [graces]
        deleted = [p for kind, p in _audit(lib) if kind == "adapter-delete"]
        assert {p["adapter"] for p in deleted} == hers
        assert all(p["by"] == f"person:{_uid(lib, alice)}" for p in deleted)
        words = [i["words"] for i in client.get("/api/me/activity").json()]
        assert any(w.startswith("deleted adapter") for w in words)
    lib.close()


def test_a_person_downloads_what_the_library_holds_about_them(world):
    import base64
    import io
    import zipfile

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from PIL import Image

    from likeness.faces.listing import list_faces

    client, lib, alice, grace = world
    issue_grant(lib, grace, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    headers, _, enrolment = _with_an_account(client, lib, alice)
    client.post(
        "/api/me/grants",
        json={"scopes": ["train-adapter"], "enrolment": enrolment},
        headers=headers,
    )
    response = client.get("/api/me/export")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(z.namelist())
    hers = {f["id"] for f in list_faces(lib, alice)}
    assert {n for n in names if n.startswith("faces/")} == {f"faces/face-{i}.jpg" for i in hers}
    assert Image.open(z.open(f"faces/face-{min(hers)}.jpg")).size == (256, 256)
    assert {f["id"] for f in json.loads(z.read("faces.json"))} == hers
    # Her grants only, each checkable with the library's key.
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(z.read("public_key.txt").decode()))
    signed = json.loads(z.read("grants.json"))
    assert signed and all(json.loads(g["document"])["subject"] == _uid(lib, alice) for g in signed)
    for g in signed:
        key.verify(base64.b64decode(g["signature"]), g["document"].encode())
    assert "made a passkey" in z.read("activity.txt").decode()
    # Nothing of Grace's, nor the owner's file names.
    everything = b"".join(z.read(n) for n in names if not n.endswith(".jpg"))
    assert _uid(lib, grace).encode() not in everything and b"Grace" not in everything
    photo_paths = {f["photo"] for f in list_faces(lib, alice)}
    assert not any(path.encode() in everything for path in photo_paths)
    # The export is in her activity, and the owner cannot download it as her.
    assert any("exported your data" in i["words"] for i in client.get("/api/me/activity").json())
    client.cookies.clear()
    signed_in(client)
    assert client.get("/api/me/export").status_code == 401


def test_a_second_invitation_link_cannot_take_over_the_account(prepared, tmp_path):
    """Found by an attacker's try: with two links for Alice, Eve opened one, Alice the other
    and registered; Eve's session then added her passkey to Alice's account on Alice's
    enrolment. A passkey now rests only on a live check the same browser session ran, an
    account takes no second passkey through a link, and links die once it exists."""
    from fastapi.testclient import TestClient as Client

    home, alice, _ = prepared
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    app = create_app(lib)
    with Client(app, base_url=LOCAL) as owner, Client(app, base_url=LOCAL) as eve:
        for_alice, for_eve, later = (_invite(owner, alice) for _ in range(3))
        assert _open(eve, for_eve).status_code == 303
        _open(owner, for_alice)  # Alice, on her phone (this client from here on)
        _live_check_as_the_astronaut(owner, lib, alice)
        assert _register(owner, SoftAuthenticator()).status_code == 201
        # Eve ran no live check in her session: Alice's does not count for her.
        refused = _register(eve, SoftAuthenticator())
        assert refused.status_code in (400, 409), refused.text
        # Nor does a live check Eve draws and someone passes for Alice in Eve's session
        # (Eve holding up Alice's photo): the account exists, no second passkey here.
        _live_check_as_the_astronaut(eve, lib, alice)
        assert _register(eve, SoftAuthenticator()).status_code == 409
        # A link made before the account opens nothing now.
        eve.cookies.clear()
        assert _open(eve, later).status_code == 403
    with lib.session() as s:
        from likeness.consent.tables import Passkey

        assert len(s.scalars(select(Passkey)).all()) == 1
    lib.close()


def test_the_owner_cannot_regroup_the_faces_of_a_person_who_consents_for_themselves(
    alice_world,
):
    """Found by an attacker's try: the owner split Alice's faces into "Alice (copy)" and
    signed a grant for it, or merged her away."""
    from likeness.faces.listing import list_faces
    from likeness.people import manage

    client, lib, alice, grace, _, _, _ = alice_world
    client.cookies.clear()
    owner = signed_in(client)
    faces = [f["id"] for f in list_faces(lib, alice)]
    graces = [f["id"] for f in list_faces(lib, grace)]
    for method, path, body in (
        ("POST", f"/api/people/{alice}/split", {"face_ids": faces[:1], "name": "copy"}),
        ("POST", f"/api/people/{grace}/merge", {"other": alice}),
        ("POST", f"/api/people/{alice}/merge", {"other": grace}),
        ("POST", "/api/faces/move", {"face_ids": faces[:1], "person": grace}),
        ("POST", "/api/faces/move", {"face_ids": graces[:1], "person": alice}),
        ("POST", "/api/faces/move", {"face_ids": faces[:1], "person": None}),
    ):
        response = client.request(method, path, json=body, headers=owner)
        assert response.status_code == 403, (path, body, response.text)
        assert "consents for themselves" in response.json()["detail"]
    # A re-cluster keeps every face of hers where it is.
    manage.recluster(lib)
    assert sorted(f["id"] for f in list_faces(lib, alice)) == sorted(faces)


def test_a_flood_of_sign_in_requests_locks_no_one_out(alice_world):
    """Found by an attacker's try: 10,000 unauthenticated requests for sign-in options
    filled the server's challenge store and every person's sign-in got 429. Sign-in
    challenges are now kept nowhere (an HMAC says they are ours), and only those a passkey
    answered are remembered, against replay."""
    client, _, _, _, _, alices, _ = alice_world
    client.cookies.clear()
    store = client.app.state.sessions
    for _ in range(20_000):
        store.sign_in_challenge()
    for _ in range(50):
        assert client.post("/api/me/sign-in/options").status_code == 200
    assert _sign_in(client, alices).status_code == 200
    # A challenge we did not make, or one whose MAC was altered, is refused.
    options = client.post("/api/me/sign-in/options").json()
    forged = dict(options, challenge=options["challenge"][:-4] + "AAAA")
    assert client.post("/api/me/sign-in", json=alices.get(forged, LOCAL)).status_code == 400


def test_an_invitee_cannot_draw_live_checks_without_end(world):
    from likeness.server.sessions import MAX_DRAWN

    client, _, alice, _ = world
    _open(client, _invite(client, alice))
    headers = _csrf(client)
    for _ in range(MAX_DRAWN):
        assert client.post("/api/me/enrolment/live", headers=headers).status_code == 201
    assert client.post("/api/me/enrolment/live", headers=headers).status_code == 429


@pytest.mark.slow  # two live checks or a trained library; `make test-all`
def test_a_person_adds_a_passkey_on_a_live_check_and_removes_a_lost_one(world):
    client, lib, alice, _ = world
    headers, phone, _ = _with_an_account(client, lib, alice)
    assert len(client.get("/api/me/passkeys").json()) == 1
    # Her only passkey cannot be removed.
    only = client.get("/api/me/passkeys").json()[0]["id"]
    assert client.delete(f"/api/me/passkeys/{only}", headers=headers).status_code == 409
    # A new device: its passkey rests on a live check passed in this session in the last
    # ten minutes (``accounts.ADD_ENROLMENT_MAX_AGE``).
    fresh = _live_check_as_the_astronaut(client, lib, alice)
    from likeness.consent import accounts

    with pytest.raises(accounts.AccountError, match="too old"):
        accounts.add_passkey(
            lib,
            person_uid=_uid(lib, alice),
            enrolment_id=fresh,
            credential={},
            challenge=b"",
            rp_id="localhost",
            origin=LOCAL,
            now=clock.now() + timedelta(minutes=11),
        )
    tablet = SoftAuthenticator()
    added = _register(client, tablet)
    assert added.status_code == 201, added.text
    keys = client.get("/api/me/passkeys").json()
    assert len(keys) == 2
    # The lost phone's is removed; the tablet's still signs her in, the phone's does not.
    lost = keys[0]["id"]  # oldest first: the phone's
    assert client.delete(f"/api/me/passkeys/{lost}", headers=headers).status_code == 204
    client.cookies.clear()
    assert _sign_in(client, phone).status_code == 403
    assert _sign_in(client, tablet).status_code == 200
    kinds = [i["words"] for i in client.get("/api/me/activity").json()]
    assert "removed a passkey" in kinds and "added a passkey" in kinds
    # Another person's passkey id, or a made-up one, is not found.
    assert client.delete("/api/me/passkeys/AAAA", headers=_csrf(client)).status_code == 404


def test_a_person_erases_their_biometric_data_and_is_never_generated_again(world):
    from likeness.consent.policy import authorize
    from likeness.safety.gate import SafetyGate

    client, lib, alice, _ = world
    headers, _, enrolment = _with_an_account(client, lib, alice)
    client.post(
        "/api/me/grants",
        json={"scopes": ["generate-stylized"], "enrolment": enrolment},
        headers=headers,
    )
    assert authorize(lib, "generate-stylized", [alice], "owner", "tiny").allowed
    assert "Erase my biometric data" in client.get("/me").text
    # The word is typed, the request carries her session's CSRF token; the owner cannot
    # erase for a person who has an account, even with a typed word.
    assert client.post("/api/me/erase", json={"confirm": "yes"}, headers=headers).status_code == 422
    assert client.post("/api/me/erase", json={"confirm": "erase"}).status_code == 403
    person_cookies = dict(client.cookies)
    client.cookies.clear()
    owner = signed_in(client)
    refused = client.post(f"/api/people/{alice}/erase", json={"confirm": "erase"}, headers=owner)
    assert refused.status_code == 403 and "only they" in refused.json()["detail"]
    client.cookies.clear()
    client.cookies.update(person_cookies)

    done = client.post("/api/me/erase", json={"confirm": "erase"}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["faces_deleted"] > 0 and done.json()["grants_revoked"] == 1
    me = client.get("/api/me").json()
    assert me["erasure"]["erased"] and me["erasure"]["templates"]
    assert all(g["revoked_at"] for g in me["grants"])
    page = client.get("/me").text
    assert 'id="erased"' in page and 'id="my-grant-form"' not in page
    words = [i["words"] for i in client.get("/api/me/activity").json()]
    assert any(w.startswith("erased your biometric data") for w in words), words
    # Refused by name, whatever is asked, and refused by face in an image showing her.
    decision = authorize(lib, "generate-stylized", [alice], "owner", "tiny")
    assert decision.reason == f"person {alice} asked never to be generated"
    gate = SafetyGate(lib, authorize(lib, "generate-stylized", [], "owner", "tiny"))
    assert "never to be generated" in gate.check(np.asarray(astronaut())).reason
    # The template goes on her word too; the mark stays.
    gone = client.post("/api/me/erase/template", json={"confirm": "erase"}, headers=headers)
    assert gone.status_code == 200 and gone.json() == {"templates_deleted": 1}
    assert client.get("/api/me").json()["erasure"]["templates"] == []
    assert not authorize(lib, "generate-stylized", [alice], "owner", "tiny").allowed


def _register_app(client) -> str:
    from tests.support.apps import REDIRECT

    headers = signed_in(client)
    app = client.post(
        "/api/apps", json={"name": "Postcards", "redirect_uri": REDIRECT}, headers=headers
    )
    assert app.status_code == 201, app.text
    client.cookies.clear()
    return app.json()["id"]


def _owner_answers(client, app_id: str, **chosen):
    from tests.support.apps import authorize_query

    owner = signed_in(client)
    query = authorize_query(app_id)
    page = client.get("/oauth/authorize", params=query)
    form = {**query, "csrf_token": owner[CSRF_HEADER], "days": "30", "decision": "allow"}
    form.update({k: [str(p) for p in v] for k, v in chosen.items()})
    answer = client.post("/oauth/authorize", data=form, follow_redirects=False)
    client.cookies.clear()
    return page, answer


def test_an_apps_request_about_a_person_with_an_account_goes_to_them(alice_world):
    from urllib.parse import parse_qs, urlsplit

    from likeness.consent.audit import list_audit
    from tests.support.apps import error_sent_back, exchange

    client, lib, alice, grace, headers, _, _ = alice_world
    person_cookies = dict(client.cookies)
    client.cookies.clear()
    app_id = _register_app(client)

    # The owner's page offers Grace to approve and Alice only to ask; approving Alice is
    # refused (her consent is hers), asking her sends the app back to ask again.
    page, refused = _owner_answers(client, app_id, person=[alice])
    assert f'name="person" value="{grace}"' in page.text
    assert f'name="person" value="{alice}"' not in page.text
    assert f'name="ask" value="{alice}"' in page.text
    assert refused.status_code == 400 and "choose only people" in refused.text
    _, asked = _owner_answers(client, app_id, ask=[alice])
    sent_back = error_sent_back(asked)
    assert sent_back["error"] == ["access_denied"]
    assert "approve for themselves" in sent_back["error_description"][0]
    assert (
        "Alice" not in asked.headers["location"]
        and str(alice) not in sent_back["error_description"][0]
    )

    # Alice sees it on her page and approves it; the owner's session cannot answer for her.
    client.cookies.update(person_cookies)
    pending = client.get("/api/me/requests").json()
    assert [(r["grantee"], r["grantee_name"], r["scopes"]) for r in pending] == [
        (f"app:{app_id}", "the app Postcards", ["generate-stylized"])
    ]
    assert "Postcards" in client.get("/me").text
    request_id = pending[0]["id"]
    client.cookies.clear()
    owner = signed_in(client)
    assert (
        client.post(
            f"/api/me/requests/{request_id}", json={"approve": True}, headers=owner
        ).status_code
        == 401
    )
    client.cookies.clear()
    client.cookies.update(person_cookies)
    answered = client.post(
        f"/api/me/requests/{request_id}", json={"approve": True}, headers=headers
    )
    assert answered.status_code == 200 and answered.json()["answer"] == "approved"
    again = client.post(f"/api/me/requests/{request_id}", json={"approve": False}, headers=headers)
    assert again.status_code == 404  # answered once
    grant_id = answered.json()["grant"]
    client.cookies.clear()

    # The app asks again: the owner includes Alice by the permission she signed.
    page, included = _owner_answers(client, app_id, include=[alice])
    assert f'name="include" value="{alice}"' in page.text
    assert included.status_code == 302, included.text
    code = parse_qs(urlsplit(included.headers["location"]).query)["code"][0]
    token = exchange(client, app_id, code).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert [p["id"] for p in client.get("/api/app/v1/people", headers=bearer).json()] == [alice]
    grants = {g.id: g for g, _ in list_grants(lib, alice)}
    assert grants[grant_id].grantee == f"app:{app_id}"
    signed = next(
        e for e in list_audit(lib) if e["kind"] == "grant" and e["payload"]["grant"] == grant_id
    )
    assert signed["payload"]["by"] == f"person:{_uid(lib, alice)}"

    # She withdraws it on her page: the app's token stops at once.
    client.cookies.update(person_cookies)
    assert (
        client.post(f"/api/me/grants/{grant_id}/revoke", json={}, headers=headers).status_code
        == 200
    )
    client.cookies.clear()
    assert client.get("/api/app/v1/people", headers=bearer).status_code == 401


def test_a_person_signed_in_at_an_apps_link_answers_it_for_themselves(alice_world):
    from urllib.parse import parse_qs, urlsplit

    from tests.support.apps import authorize_query, exchange

    client, lib, alice, grace, headers, _, _ = alice_world
    person_cookies = dict(client.cookies)
    client.cookies.clear()
    app_id = _register_app(client)
    client.cookies.update(person_cookies)
    query = authorize_query(app_id)
    page = client.get("/oauth/authorize", params=query)
    assert page.status_code == 200 and "create images of <strong>you</strong>" in page.text
    assert 'name="person"' not in page.text
    form = {**query, "csrf_token": headers[CSRF_HEADER], "days": "7", "decision": "allow"}
    # She answers for herself only: naming anyone (Grace) is refused, and nothing is signed.
    smuggled = client.post(
        "/oauth/authorize", data={**form, "person": str(grace)}, follow_redirects=False
    )
    assert smuggled.status_code == 400
    assert client.post("/oauth/authorize", data={**form, "csrf_token": "x"}).status_code == 403
    assert not [g for g, _ in list_grants(lib, grace) if g.grantee.startswith("app:")]
    answer = client.post("/oauth/authorize", data=form, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    client.cookies.clear()
    token = exchange(client, app_id, code).json()["access_token"]
    people = client.get("/api/app/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert [p["id"] for p in people.json()] == [alice]
    # Signed out, the link leads to a sign-in page that offers the passkey and comes back.
    first = client.get("/oauth/authorize", params=query, follow_redirects=True)
    assert 'id="person-sign-in"' in first.text
    link = first.text.split('id="person-sign-in" href="', 1)[1].split('"', 1)[0]
    assert client.get(link.replace("&amp;", "&")).text.count('data-next="/oauth/authorize?') == 1


@pytest.mark.slow  # two live checks; `make test-all`
def test_a_minors_permission_waits_for_the_guardian_the_owner_named(world, monkeypatch):
    from likeness.consent import guardians
    from likeness.consent.audit import list_audit
    from likeness.consent.policy import authorize
    from likeness.people import manage
    from likeness.testing.libraries import hopper_variants

    client, lib, alice, grace = world
    alice_headers, _, _ = _with_an_account(client, lib, alice)
    alice_cookies = dict(client.cookies)
    client.cookies.clear()
    manage.set_minor(lib, grace, True)
    owner = signed_in(client)
    refused = client.post(f"/api/people/{grace}/invitations", json={}, headers=owner)
    assert refused.status_code == 400 and "guardian first" in refused.json()["detail"]
    itself = client.put(f"/api/people/{grace}/guardian", json={"guardian": grace}, headers=owner)
    assert itself.status_code == 400
    named = client.put(f"/api/people/{grace}/guardian", json={"guardian": alice}, headers=owner)
    assert named.status_code == 200 and named.json()["guardian"] == alice
    client.cookies.clear()

    grace_headers, _, enrolment = _with_an_account(client, lib, grace, hopper_variants()[0])
    grace_cookies = dict(client.cookies)
    page = client.get("/me").text
    assert 'id="minor-note"' in page and "Alice" in page
    waiting = client.post(
        "/api/me/grants",
        json={"scopes": ["generate-stylized"], "enrolment": enrolment},
        headers=grace_headers,
    )
    assert waiting.status_code == 202, waiting.text
    request_id = waiting.json()["waiting_for_guardian"]["id"]
    assert not list_grants(lib, grace)  # nothing signed yet
    assert not authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed
    # She cannot answer her own request; the owner cannot either.
    mine = client.post(
        f"/api/me/guardian-requests/{request_id}", json={"approve": True}, headers=grace_headers
    )
    assert mine.status_code == 404
    assert [r["id"] for r in client.get("/api/me/guardian-requests").json()["waiting"]] == [
        request_id
    ]

    client.cookies.clear()
    client.cookies.update(alice_cookies)
    to_answer = client.get("/api/me/guardian-requests").json()["to_answer"]
    assert [(r["id"], r["minor"]) for r in to_answer] == [(request_id, grace)]
    assert "Your wards" in client.get("/me").text
    # A second answer racing the first (sent while the grant is signed) finds it answered.
    sign = guardians.issue_grant
    raced = []

    def second_answer_while_the_first_signs(*args, **kwargs):
        if not raced:
            raced.append(
                client.post(
                    f"/api/me/guardian-requests/{request_id}",
                    json={"approve": True},
                    headers=alice_headers,
                ).status_code
            )
        return sign(*args, **kwargs)

    monkeypatch.setattr(guardians, "issue_grant", second_answer_while_the_first_signs)
    approved = client.post(
        f"/api/me/guardian-requests/{request_id}", json={"approve": True}, headers=alice_headers
    )
    assert raced == [404]
    assert approved.status_code == 200 and approved.json()["answer"] == "approved"
    ((grant, _),) = list_grants(lib, grace)
    assert grant.trust == "verified" and f"guardian:{_uid(lib, alice)}" in grant.evidence
    signed = next(e for e in list_audit(lib) if e["kind"] == "grant")
    assert signed["payload"]["by"] == f"person:{_uid(lib, grace)}"
    assert signed["payload"]["guardian"] == _uid(lib, alice)
    assert authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed
    # Photoreal stays refused for a minor, whatever was signed.
    assert "minor" in authorize(lib, "generate-photoreal", [grace], "owner", "tiny").reason
    client.cookies.clear()
    client.cookies.update(grace_cookies)
    assert client.get("/api/me/guardian-requests").json()["waiting"] == []
    # A request still waiting when the owner removes her guardian lapses: Alice no longer
    # sees it, nor can answer it; and Grace, with an account, stays marked a minor.
    again = client.post(
        "/api/me/grants",
        json={"scopes": ["train-adapter"], "enrolment": enrolment},
        headers=grace_headers,
    ).json()["waiting_for_guardian"]["id"]
    client.cookies.clear()
    owner = signed_in(client)
    removed = client.put(f"/api/people/{grace}/guardian", json={"guardian": None}, headers=owner)
    assert removed.status_code == 200 and removed.json()["guardian"] is None
    unmarked = client.patch(f"/api/people/{grace}", json={"minor": False}, headers=owner)
    assert unmarked.status_code == 403
    client.cookies.clear()
    client.cookies.update(alice_cookies)
    assert client.get("/api/me/guardian-requests").json()["to_answer"] == []
    late = client.post(
        f"/api/me/guardian-requests/{again}", json={"approve": True}, headers=alice_headers
    )
    assert late.status_code == 404
    client.cookies.clear()
    client.cookies.update(grace_cookies)
    # An app's link opened by her says no app may ask for a minor (and signs nothing).
    from tests.support.apps import authorize_query

    client.cookies.clear()
    app_id = _register_app(client)
    client.cookies.update(grace_cookies)
    page = client.get("/oauth/authorize", params=authorize_query(app_id))
    assert page.status_code == 400 and "minor" in page.text and "authorize-form" not in page.text
    words = [f"{i['actor']} {i['words']}" for i in client.get("/api/me/activity").json()]
    assert "your guardian approved a permission you gave" in words
    assert "the library's owner named your guardian" in words


def test_the_passkey_sign_in_returns_only_to_a_path_of_this_site(world):
    client = world[0]
    for bad in (
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://evil.example",
    ):
        page = client.get("/me/sign-in", params={"next": bad}).text
        assert 'data-next="/me"' in page, bad
    page = client.get("/me/sign-in", params={"next": '/oauth/authorize?a="b"'}).text
    assert 'data-next="/oauth/authorize?a=&#34;b&#34;"' in page  # kept, and escaped


def test_the_owners_person_page_offers_what_each_person_allows(alice_world):
    from likeness.people import manage

    client, lib, alice, grace, _, _, _ = alice_world
    client.cookies.clear()
    signed_in(client)
    page = client.get(f"/people/{alice}").text  # an account: ask, never sign nor invite
    assert 'id="grant-request-form"' in page and 'id="invite-form"' not in page
    assert 'id="erase-person-form"' not in page  # hers to decide
    manage.set_minor(lib, grace, True)
    page = client.get(f"/people/{grace}").text  # a minor: a guardian first, then invited
    assert 'id="guardian-form"' in page and 'id="invite-form"' not in page
    assert f'<option value="{alice}">Alice</option>' in page
    named = client.put(
        f"/api/people/{grace}/guardian", json={"guardian": alice}, headers=_owner(client)
    )
    assert named.status_code == 200, named.text
    page = client.get(f"/people/{grace}").text
    assert 'id="invite-form"' in page and 'id="guardian">Alice<' in page
    erased = client.post(
        f"/api/people/{grace}/erase", json={"confirm": "erase"}, headers=_owner(client)
    )
    assert erased.status_code == 200, erased.text
    page = client.get(f"/people/{grace}").text
    assert 'id="erased"' in page and 'id="invite-form"' not in page and "enrol-link" not in page
    # A minor with an account: the guardian can be changed, no one asks them, nor erases.
    manage.set_minor(lib, alice, True)
    page = client.get(f"/people/{alice}").text
    assert 'id="guardian-form"' in page and 'id="grant-request-form"' not in page
    assert 'id="erase-person-form"' not in page and 'id="invite-form"' not in page


def _owner(client) -> dict[str, str]:
    """The owner's CSRF header, read back from a page of theirs."""
    return _csrf(client, "/people")


def test_a_person_merged_away_after_their_invitation_makes_no_account(world):
    """The owner merges an invitee's group into another while they are registering their
    passkey: the registration is refused (no account would rest on a group that is gone,
    which an undo would bring back without its mark), and no account is made."""
    from likeness.consent.tables import PersonAccount
    from likeness.people.merges import merge_people

    client, lib, alice, grace = world
    _open(client, _invite(client, alice))
    _live_check_as_the_astronaut(client, lib, alice)
    headers = _csrf(client)
    options = client.post("/api/me/passkeys/options", headers=headers)
    assert options.status_code == 200, options.text
    merge_people(lib, grace, alice)  # meanwhile, in the owner's window
    credential = SoftAuthenticator().create(options.json(), LOCAL)
    registered = client.post("/api/me/passkeys", json=credential, headers=headers)
    assert registered.status_code in (400, 404), registered.text
    assert "no longer in this library" in registered.json()["detail"]
    with lib.session() as s:
        assert s.scalars(select(PersonAccount)).all() == []
