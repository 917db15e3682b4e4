"""Live enrolment's API: drawing a live session, and the WebSocket's guards (sign-in, CSRF
token, origin), bad frames and a camera that stops, each refused and recorded. A whole live
enrolment through a browser's fake camera is in test_browser.py."""

from __future__ import annotations

import io
import struct
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from likeness.consent.enrolment import start_enrolment
from likeness.consent.tables import Enrolment
from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import LOCAL, signed_in

ORIGIN = {"origin": LOCAL}


@pytest.fixture
def world(prepared, tmp_path):
    from likeness.testing.server import PASSPHRASE

    home, alice, _ = prepared
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        yield client, lib, alice
    lib.close()


def frame(t: float, pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG")
    return struct.pack("<d", t) + out.getvalue()


def live_url(alice: int, session: str, csrf: str) -> str:
    """The socket's URL, absolute: the test client's sockets go to ``testserver`` otherwise,
    a Host the server refuses."""
    return f"ws://localhost/api/people/{alice}/enrolment/live/{session}?csrf={csrf}"


def enrolments(lib) -> list[Enrolment]:
    with lib.session() as s:
        return list(s.scalars(select(Enrolment)))


def test_a_live_session_is_drawn_without_revealing_its_prompts(world):
    client, _, alice = world
    assert client.post(f"/api/people/{alice}/enrolment/live").status_code == 401
    headers = signed_in(client)
    assert client.post(f"/api/people/{alice}/enrolment/live").status_code == 403  # no CSRF
    response = client.post(f"/api/people/{alice}/enrolment/live", headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"session", "person", "expires_at"}  # no schedule, no prompt
    assert client.post("/api/people/999/enrolment/live", headers=headers).status_code == 404


@pytest.mark.parametrize("wrong", ["no session", "no csrf", "other origin", "no origin"])
def test_the_live_socket_needs_a_session_its_csrf_token_and_this_servers_origin(world, wrong):
    client, lib, alice = world
    csrf = signed_in(client)["X-CSRF-Token"]
    session = start_enrolment(lib, alice, live=True).id
    if wrong == "no session":
        client.cookies.clear()
    url = live_url(alice, session, "" if wrong == "no csrf" else csrf)
    headers = {
        "no origin": {},
        "other origin": {"origin": "http://evil.example"},
    }.get(wrong, ORIGIN)
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(url, headers=headers) as socket,
    ):
        socket.receive_text()
    assert refused.value.code == 1008
    assert enrolments(lib) == []  # the session was not claimed


def test_a_person_id_beyond_sqlites_integers_is_refused(world):
    client, _, _ = world
    csrf = signed_in(client)["X-CSRF-Token"]
    url = f"ws://localhost/api/people/{2**70}/enrolment/live/{'0' * 32}?csrf={csrf}"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(url, headers=ORIGIN) as socket,
    ):
        socket.receive_text()
    assert refused.value.code == 1008


def test_a_recorded_session_cannot_be_used_live(world):
    client, lib, alice = world
    csrf = signed_in(client)["X-CSRF-Token"]
    session = start_enrolment(lib, alice).id  # its schedule was shown to the person
    with client.websocket_connect(live_url(alice, session, csrf), headers=ORIGIN) as socket:
        assert "start a live session" in socket.receive_json()["error"]


def test_a_bad_frame_ends_the_enrolment_refused_and_recorded(world):
    client, lib, alice = world
    csrf = signed_in(client)["X-CSRF-Token"]
    session = start_enrolment(lib, alice, live=True).id
    with client.websocket_connect(live_url(alice, session, csrf), headers=ORIGIN) as socket:
        assert socket.receive_json() == {"ready": True}
        socket.send_bytes(frame(0.0, np.full((480, 640, 3), 128, np.uint8)))
        assert socket.receive_json()["prompt"]["kind"] == "start"
        socket.send_bytes(struct.pack("<d", 0.1) + b"not a jpeg")
        verdict = socket.receive_json()["verdict"]
    assert not verdict["passed"] and "could not be read" in verdict["reason"]
    assert "object at" not in verdict["reason"] and "0x" not in verdict["reason"]
    [row] = enrolments(lib)
    assert row.id == verdict["id"] and not row.passed
    with client.websocket_connect(live_url(alice, session, csrf), headers=ORIGIN) as socket:
        assert "already used" in socket.receive_json()["error"]


def test_a_text_message_ends_the_enrolment_with_a_verdict(world):
    client, lib, alice = world
    csrf = signed_in(client)["X-CSRF-Token"]
    session = start_enrolment(lib, alice, live=True).id
    with client.websocket_connect(live_url(alice, session, csrf), headers=ORIGIN) as socket:
        assert socket.receive_json() == {"ready": True}
        socket.send_text('{"frame": "not like this"}')
        verdict = socket.receive_json()["verdict"]
    assert not verdict["passed"] and "binary messages" in verdict["reason"]
    [row] = enrolments(lib)
    assert row.id == verdict["id"] and not row.passed


def test_a_camera_that_stops_midway_is_recorded_as_refused(world):
    client, lib, alice = world
    csrf = signed_in(client)["X-CSRF-Token"]
    session = start_enrolment(lib, alice, live=True).id
    with client.websocket_connect(live_url(alice, session, csrf), headers=ORIGIN) as socket:
        socket.receive_json()
        socket.send_bytes(frame(0.0, np.full((480, 640, 3), 128, np.uint8)))
        socket.receive_json()
    deadline = time.monotonic() + 30
    while not enrolments(lib) and time.monotonic() < deadline:
        time.sleep(0.1)
    [row] = enrolments(lib)
    assert not row.passed and "camera stopped" in row.reason
