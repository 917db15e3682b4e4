"""The server tried as an attacker would: where sign-in sends the browser, framing, a foreign
``Host`` (DNS rebinding), large bodies, parallel passphrase guessing, the interactive docs'
CDN scripts, error pages, and the service's passphrase. Each was found open once (issue 22)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient

from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.server.security import DEFAULT_NEXT, safe_next
from likeness.server.sessions import DEVICE_COOKIE_NAME, SignInGuard
from likeness.testing.libraries import copy_home
from likeness.testing.server import (
    LOCAL,
    PASSPHRASE,
    free_port,
    serve_command,
    served_on_loopback,
    signed_in,
)


@pytest.fixture
def lib(prepared, tmp_path):
    home, _, _ = prepared
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    yield lib
    lib.close()


@pytest.fixture
def client(lib):
    with TestClient(create_app(lib), base_url=LOCAL) as client:
        yield client


def next_of(page_html: str) -> str:
    """Where the sign-in page will send the browser once signed in."""
    return unescape(re.search(r'data-next="([^"]*)"', page_html).group(1))


@pytest.mark.parametrize(
    "target",
    [
        "javascript:fetch('/api/session').then(r=>r.text()).then(alert)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "https://evil.example/",
        "//evil.example/people",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "data:text/html,<script>alert(1)</script>",
        "people",
    ],
)
def test_sign_in_never_sends_the_browser_off_this_site(client, target):
    page = client.get("/sign-in", params={"next": target})
    assert page.status_code == 200
    assert next_of(page.text) == DEFAULT_NEXT


def test_sign_in_goes_on_to_a_path_of_this_site(client):
    target = "/oauth/authorize?client_id=abc&scope=generate-stylized"
    assert next_of(client.get("/sign-in", params={"next": target}).text) == target
    # A page asked for without a session comes back to itself after sign-in.
    redirect = client.get("/people/3?x=1", follow_redirects=False)
    assert next_of(client.get(redirect.headers["location"]).text) == "/people/3?x=1"
    assert safe_next(None) == DEFAULT_NEXT and safe_next("/jobs") == "/jobs"


def test_no_page_can_be_framed_and_scripts_come_only_from_this_site(client):
    signed_in(client)
    for path in ("/sign-in", "/people", "/consent", "/apps", "/api/people", "/health"):
        response = client.get(path)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["x-content-type-options"] == "nosniff", path


def test_a_host_this_server_is_not_reached_by_is_refused(lib):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends
    ``Host: evil.example:PORT``; it must not be served, sign-in least of all."""
    app = create_app(lib, host="127.0.0.1", hosts=["photos.home.arpa"])
    with TestClient(app, base_url="http://evil.example:8765") as evil:
        assert evil.get("/health").status_code == 400
        signing = evil.post("/api/sign-in", json={"passphrase": PASSPHRASE})
        assert signing.status_code == 400 and "set-cookie" not in signing.headers
    for base in ("http://localhost:8765", "http://127.0.0.1:8765", "http://photos.home.arpa"):
        with TestClient(app, base_url=base) as ok:
            assert ok.get("/health").status_code == 200, base


def test_the_servers_own_refusals_carry_the_security_headers(lib):
    app = create_app(lib)
    with TestClient(app, base_url="http://evil.example") as evil:
        foreign = evil.get("/health")
    with TestClient(app, base_url=LOCAL) as client:
        large = client.post("/api/sign-in", content=b"x" * 5000)
    for response in (foreign, large):
        assert response.status_code in (400, 413)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


def test_an_allowed_host_is_a_host_name_or_an_address(lib):
    for bad in ("*", "*.example.org", "photos.home.arpa:8765", "evil example", "a/b"):
        with pytest.raises(ValueError, match="not a host name"):
            create_app(lib, hosts=[bad])
    create_app(lib, host="::1", hosts=["Photos.Home.Arpa", "192.168.1.20"])


def test_a_passphrase_that_is_no_text_is_a_wrong_one(client):
    lone = rb'{"passphrase": "\ud800\ud800 abcdefghij"}'
    answer = client.post("/api/sign-in", content=lone, headers={"content-type": "application/json"})
    assert answer.status_code in (401, 422)


def test_a_large_body_is_refused_before_it_is_read(client):
    huge = b'{"passphrase": "' + b"x" * 10_000_000 + b'"}'
    refused = client.post(
        "/api/sign-in", content=huge, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413
    # Without a Content-Length (chunked), it is counted as it arrives.
    chunks = (b"x" * 65536 for _ in range(800))  # 50 MB
    refused = client.post(
        "/api/people/1/merge", content=chunks, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413
    assert client.get("/health").status_code == 200


def test_the_interactive_docs_are_off_and_load_nothing_from_a_cdn(client):
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_a_missing_person_page_is_a_page_not_json(client):
    signed_in(client)
    page = client.get("/people/999999")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no person with id 999999" in page.text
    api = client.get("/api/people/999999")
    assert api.status_code == 404 and api.json()["detail"] == "no person with id 999999"


def test_parallel_guesses_are_checked_one_turn_at_a_time_and_the_owner_still_gets_in(lib):
    """40 wrong passphrases sent at once: only the free tries and the few whose turn comes
    soon are checked, the rest get 429 with Retry-After; the owner's browser, which signed
    in before, has its own count and signs in at once, while a browser that never did waits
    with the guesser."""
    # The guard's clock stands still (the server still sleeps each wait for real): what is
    # checked is the order of turns, not how fast a loaded machine answers 40 requests.
    guard = SignInGuard(
        free=5, base_delay_s=0.2, max_delay_s=5, max_wait_s=1.0, clock=lambda: 1000.0
    )
    with served_on_loopback(create_app(lib, sign_in_guard=guard)) as url:
        owner = httpx.Client(base_url=url)
        assert owner.post("/api/sign-in", json={"passphrase": PASSPHRASE}).status_code == 200
        assert DEVICE_COOKIE_NAME in owner.cookies

        def guess(i: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=30) as attacker:
                return attacker.post("/api/sign-in", json={"passphrase": f"guess number {i}"})

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(guess, range(40)))
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {401, 429}
        assert 5 <= statuses.count(401) <= 10, statuses
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
        # A new browser, even with the right passphrase, waits with the guesser...
        stranger = httpx.post(f"{url}/api/sign-in", json={"passphrase": PASSPHRASE})
        assert stranger.status_code == 429
        # ...and the owner's own browser does not.
        again = owner.post("/api/sign-in", json={"passphrase": PASSPHRASE})
        assert again.status_code == 200
        # A forged device cookie is no one's: it counts with the strangers.
        forged = httpx.post(
            f"{url}/api/sign-in",
            json={"passphrase": PASSPHRASE},
            cookies={DEVICE_COOKIE_NAME: "abc.0123"},
        )
        assert forged.status_code == 429
        owner.close()


def test_the_guard_doubles_each_wait_caps_it_and_forgets():
    from likeness.server.sessions import TooManyTriesError

    now = [0.0]
    guard = SignInGuard(
        free=2,
        base_delay_s=1,
        max_delay_s=4,
        max_wait_s=10,
        forget_after_s=100,
        clock=lambda: now[0],
    )
    waits = []
    for _ in range(5):
        waits.append(guard.reserve("anonymous"))
        guard.settle("anonymous", succeeded=False)
    # Two free tries, then turns 1, 2 and (capped) 4 seconds after the one before.
    assert waits == [0, 0, 1, 3, 7]
    with pytest.raises(TooManyTriesError) as later:  # its turn would be 11 s away
        guard.reserve("anonymous")
    assert later.value.retry_after_s == 1
    assert guard.reserve("device:abc") == 0  # another count entirely
    now[0] = 200.0  # a long quiet: the count starts again
    assert guard.reserve("anonymous") == 0
    guard.settle("anonymous", succeeded=True)


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_service_sets_the_passphrase_without_a_terminal(prepared, tmp_path, how):
    """``likeness serve --passphrase-file`` / ``--passphrase-stdin``, as systemd or a
    container runs it: no terminal, then sign in over HTTP with that passphrase."""
    home, _, _ = prepared
    copy_home(home, tmp_path / "home").close()
    port = free_port()
    secret = tmp_path / "passphrase"
    secret.write_text("a service passphrase\n")
    secret.chmod(0o600)
    args = ["--port", str(port), "--home", str(tmp_path / "home")]
    args += ["--passphrase-file", str(secret)] if how == "file" else ["--passphrase-stdin"]
    url = f"http://127.0.0.1:{port}"
    stdin = b"a service passphrase\n" if how == "stdin" else b""
    with serve_command(args, url, stdin):
        signed = httpx.post(f"{url}/api/sign-in", json={"passphrase": "a service passphrase"})
        assert signed.status_code == 200 and "csrf_token" in json.loads(signed.text)
        rebinding = httpx.get(f"{url}/health", headers={"host": f"evil.example:{port}"})
        assert rebinding.status_code == 400


def test_a_passphrase_file_others_can_read_is_used_with_a_warning(tmp_path):
    from likeness.cli.serve import read_passphrase_file

    secret = tmp_path / "passphrase"
    secret.write_text("shared passphrase\nsecond line ignored\n")
    secret.chmod(0o644)
    assert read_passphrase_file(secret) == "shared passphrase"
