"""The web app in a real browser: Debian's Chromium, headless, driven by Playwright, against
the server on loopback (uvicorn in a thread) over a real library. Screenshots are written to
``build/test-artifacts`` (or ``$LIKENESS_TEST_ARTIFACTS``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip (the page fixture says why)
    expect = None

from likeness.server import create_app
from likeness.server.owner import set_owner_passphrase
from likeness.testing.libraries import copy_home
from likeness.testing.server import PASSPHRASE, served_on_loopback

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("LIKENESS_TEST_ARTIFACTS", "build/test-artifacts"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (make test installs it with apt-get)",
    ),
]


@pytest.fixture
def server(prepared, tmp_path):
    home, alice, grace = prepared
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    with served_on_loopback(create_app(lib)) as url:
        yield url, lib, alice, grace
    lib.close()


@pytest.fixture
def page(request):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        yield page
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def sign_in(page, url: str, passphrase: str = PASSPHRASE) -> None:
    page.goto(f"{url}/people")
    page.wait_for_url("**/sign-in?next=*")  # a page without a session goes to sign-in
    page.fill("input[name=passphrase]", passphrase)
    page.click("button[type=submit]")


def test_a_wrong_passphrase_is_shown_and_signs_nobody_in(server, page):
    url, *_ = server
    sign_in(page, url, "not the passphrase")
    page.wait_for_selector("#error:not([hidden])")
    assert "wrong passphrase" in page.inner_text("#error")
    page.goto(f"{url}/people")
    assert "/sign-in" in page.url


@pytest.mark.parametrize(
    "target", ["javascript:document.title='owned'", "https://evil.example/", "//evil.example"]
)
def test_sign_in_follows_no_next_that_leaves_this_site(server, page, target):
    """``/sign-in?next=javascript:...`` once ran script in this origin after sign-in."""
    from urllib.parse import quote

    url, *_ = server
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{url}/sign-in?next={quote(target, safe='')}")
    page.fill("input[name=passphrase]", PASSPHRASE)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/people")
    assert page.title() != "owned" and not dialogs


def test_naming_and_merging_people_in_the_browser(server, page):
    url, lib, alice, grace = server
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    cards = page.locator(".person")
    assert cards.count() == 2
    # Each card shows the person's best face.
    assert page.locator(f".person[data-id='{grace}'] img").evaluate("i => i.naturalWidth") > 0
    name = page.locator(f".person[data-id='{grace}'] input[name=name]")
    name.fill("Admiral Hopper")
    name.press("Enter")
    page.wait_for_selector(f".person[data-id='{grace}'] input[value='Admiral Hopper']")
    from likeness.people.manage import list_people

    assert {p.id: p.name for p in list_people(lib)}[grace] == "Admiral Hopper"
    # Mark Grace as a minor: the badge shows after the reload.
    page.click(f".person[data-id='{grace}'] button.minor")
    page.wait_for_selector(f".person[data-id='{grace}'][data-minor='true']")
    # Merge: select Alice first (she keeps her name), then Grace.
    page.check(f"input[name=person][value='{alice}']")
    page.check(f"input[name=person][value='{grace}']")
    page.click("#merge")
    # The merge is previewed first: who goes into whom, and the name after.
    expect(page.locator("#merge-dialog")).to_be_visible()
    preview = page.inner_text("#merge-preview")
    assert "Admiral Hopper" in preview and "goes into" in preview
    page.click("#merge-confirm")
    # (Playwright's string predicates are eval'd, which the pages' CSP forbids: a locator.)
    expect(page.locator(".person")).to_have_count(1)
    assert [p.id for p in list_people(lib)] == [alice]
    expect(page.locator("#flash")).to_contain_text("Undo is offered on this page")
    # Undone from the People page: Grace is back, with her id and her faces.
    expect(page.locator(".merge-record")).to_contain_text("Admiral Hopper was merged into")
    page.click(".merge-record .undo-merge")
    expect(page.locator(".person")).to_have_count(2)
    expect(page.locator("#flash")).to_contain_text("Admiral Hopper is back")
    assert sorted(p.id for p in list_people(lib)) == sorted([alice, grace])


def test_splitting_faces_off_a_person(server, page):
    url, lib, alice, _ = server
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    page.goto(f"{url}/people/{alice}")
    boxes = page.locator("input[name=face]")
    before = boxes.count()
    assert before >= 2
    boxes.first.check()
    page.fill("#split input[name=name]", "Someone else")
    page.click("#split button[type=submit]")
    expect(page.locator("input[name=face]")).to_have_count(before - 1)
    from likeness.people.manage import list_people

    made = {p.name: p.id for p in list_people(lib)}["Someone else"]
    # The page says where the faces went, with a way there.
    expect(page.locator("#flash")).to_contain_text("1 face went to a new person, Someone else.")
    assert page.get_attribute("#flash a", "href") == f"/people/{made}"


def test_the_owner_erases_a_person_at_their_request(server, page):
    """A person without an account, erased from their page in the owner's web app (typed):
    their faces go, the page says so, and a request for them is refused."""
    from likeness.consent.policy import authorize

    url, lib, _, grace = server
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    page.goto(f"{url}/people/{grace}")
    page.fill("#erase-person-form input[name=confirm]", "eras")  # mistyped: refused
    page.click("#erase-person-form button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    page.fill("#erase-person-form input[name=confirm]", "erase")
    page.click("#erase-person-form button[type=submit]")
    page.wait_for_selector("#erased")
    expect(page.locator("input[name=face]")).to_have_count(0)
    assert (
        "never to be generated"
        in authorize(lib, "generate-stylized", [grace], "owner", "tiny").reason
    )


def test_a_refused_edit_shows_its_reason(server, page):
    url, _, alice, _ = server
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    page.check(f"input[name=person][value='{alice}']")
    page.click("#merge")  # one person selected: refused in the page
    page.wait_for_selector("#error:not([hidden])")
    assert "select two or more people" in page.inner_text("#error")


def test_importing_from_the_jobs_page(server, page, tmp_path):
    from likeness.testing.libraries import hopper_variants
    from likeness.testing.photos import jpeg_bytes, write

    url, *_ = server
    folder = tmp_path / "more"
    write(folder / "hopper-extra.jpg", jpeg_bytes(hopper_variants()[0].rotate(3)))
    write(folder / "broken.jpg", b"not a photo")
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    page.goto(f"{url}/jobs")
    page.fill("input[name=path]", str(folder))
    page.click("#import-form button[type=submit]")
    # The page follows the job live (server-sent events) and reloads when it ends.
    page.wait_for_selector(".job[data-live='false'] .state:text('done')", timeout=120_000)
    assert "1 problems" in page.inner_text(".job")


def test_granting_and_revoking_consent_in_the_browser(server, page):
    url, lib, _, grace = server
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    page.goto(f"{url}/consent")
    assert "verified" in page.inner_text("#audit-state")
    page.select_option("#grant-form select[name=person]", str(grace))
    page.check("#grant-form input[value='generate-stylized']")
    page.click("#grant-form button[type=submit]")
    page.wait_for_selector(".grant .state:text('in force')")
    from likeness.consent.policy import authorize

    assert authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed
    # Revoking destroys the person's adapter key: it is confirmed first, and a "no" keeps it.
    seen = []
    page.once("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    page.click(".grant button.revoke")
    page.wait_for_timeout(500)
    assert seen and "adapters are destroyed" in seen[0] and "Grace Hopper" in seen[0]
    assert authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".grant button.revoke")
    page.wait_for_selector(".grant .state:text('revoked')")
    assert not authorize(lib, "generate-stylized", [grace], "owner", "tiny").allowed
    page.goto(f"{url}/consent")
    assert page.get_attribute("#audit-state", "data-ok") == "true"


@pytest.mark.slow  # 13 s; `make test-all`
def test_creating_on_a_tiny_model_in_the_browser(trained, tmp_path, page):
    from likeness.consent.grants import Scope, Trust, issue_grant

    home, alice, _ = trained
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    from likeness.people.manage import name_person

    issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    name_person(lib, alice, "Alice O'Neil")  # a name with punctuation
    with served_on_loopback(create_app(lib)) as url:
        sign_in(page, url)
        page.wait_for_url(f"{url}/people")
        page.goto(f"{url}/create")
        page.click("#prompt")
        page.keyboard.type("@al")
        page.click("button.mention:text('@alice_o_neil')")  # @-mention completion
        page.keyboard.type("reading in a garden")
        assert page.input_value("#prompt") == "@alice_o_neil reading in a garden"
        page.select_option("select[name=style]", "watercolor")
        page.fill("input[name=steps]", "4")
        page.dblclick("#create-form button[type=submit]")  # an impatient double click
        page.wait_for_selector(".creation[data-live='false'] img", timeout=180_000)
        queued = [j for j in page.request.get(f"{url}/api/jobs").json()]
        assert len(queued) == 1, queued  # one click's worth: one job
        assert page.locator(".creation img").evaluate("i => i.naturalWidth") > 0
        # A prompt naming someone without consent is refused with the reason.
        page.fill("#prompt", "@grace_hopper on stage")
        page.click("#create-form button[type=submit]")
        page.wait_for_selector("#error:not([hidden])")
        assert "no grant in force" in page.inner_text("#error")
    lib.close()


@pytest.mark.slow  # 20 s; `make test-all`
def test_creating_a_clip_in_the_browser(trained, tmp_path, page):
    """The Create page's video option: frames and rate appear, the clip job is queued on the
    video route, and the result plays in the page (the browser reads the MP4's H.264)."""
    from likeness.consent.grants import Scope, Trust, issue_grant

    home, alice, _ = trained
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    issue_grant(lib, alice, [Scope.GENERATE_VIDEO], Trust.ATTESTED)
    with served_on_loopback(create_app(lib)) as url:
        sign_in(page, url)
        page.wait_for_url(f"{url}/people")
        page.goto(f"{url}/create")
        assert not page.is_visible("input[name=frames]")
        page.select_option("select[name=kind]", "video")
        assert page.is_visible("input[name=frames]") and page.is_visible("input[name=fps]")
        page.fill("#prompt", "@alice waving")
        page.select_option("select[name=style]", "watercolor")
        page.fill("input[name=steps]", "2")
        page.fill("input[name=frames]", "8")
        page.click("#create-form button[type=submit]")
        page.wait_for_selector(".creation[data-live='false'] video", timeout=180_000)
        [job] = page.request.get(f"{url}/api/jobs").json()
        assert job["kind"] == "video" and job["params"]["options"]["frames"] == 8
        duration = page.locator(".creation video").evaluate(
            """v => new Promise((done) => {
                if (v.readyState >= 1) return done(v.duration);
                v.addEventListener("loadedmetadata", () => done(v.duration));
                v.addEventListener("error", () => done(-1));
            })"""
        )
        assert duration == pytest.approx(1.0, abs=0.2)  # 8 frames at 8 a second
    lib.close()


@pytest.fixture
def camera_page(request, tmp_path):
    """A page in a Chromium whose camera plays a clip (a fake device): call with the clip's
    frames; the page comes back."""
    playwright = pytest.importorskip("playwright.sync_api")
    from likeness.testing import clips

    with playwright.sync_playwright() as p:
        browsers = []

        def launch(frames):
            clip = clips.write_y4m(frames, tmp_path / f"camera-{len(browsers)}.y4m")
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={clip}",
                ],
            )
            browsers.append(browser)
            return browser.new_page(viewport={"width": 1100, "height": 900})

        launch.clip = lambda i: tmp_path / f"camera-{i}.y4m"  # the clip browser i plays
        yield launch
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for i, browser in enumerate(browsers):
            for page in browser.contexts[0].pages:
                shot = ARTIFACTS / f"{request.node.name}-{i}.png"
                page.screenshot(path=str(shot), full_page=True)
            browser.close()


def _live_clip(lib, person: int, render, session=None) -> tuple[str, list]:
    """A live session drawn for ``person`` (as the API draws it; or ``session``, drawn
    already) and a camera clip of ``render(session)`` with 4 s more of the still photo after
    it, for the fake camera."""
    from likeness.consent.enrolment import start_enrolment

    session = session or start_enrolment(lib, person, live=True)
    frames = render(session)
    step = frames[1][0] - frames[0][0]
    t, still = frames[-1][0], frames[0][1]
    frames += [(t + step * (i + 1), still) for i in range(int(4 / step))]
    return session.id, frames


@pytest.mark.slow  # 20 s; the live protocol is in tests/consent/test_live.py; `make test-all`
def test_live_enrolment_with_a_fake_camera_then_a_verified_grant(server, camera_page):
    from likeness.consent.policy import authorize
    from likeness.testing import clips
    from likeness.testing.photos import astronaut

    url, lib, alice, _ = server
    pixels, face = clips.prepared(astronaut())  # Alice's photos are the astronaut's
    page = _enrol_in_step(
        url, lib, alice, camera_page, lambda s: clips.honest_frames(pixels, face.landmarks, s)
    )
    assert page.get_attribute("#verdict", "data-passed") == "true", page.inner_text("#verdict")
    assert "frames checked" in page.inner_text("#status")
    # Grant from the verdict: the consent form comes filled in with the enrolment.
    page.click("#verdict a")
    page.wait_for_url(f"{url}/consent?*")
    page.check("#grant-form input[value='generate-photoreal']")
    page.click("#grant-form button[type=submit]")
    page.wait_for_selector(".grant .state:text('in force')")
    assert "verified" in page.inner_text(".grant")
    assert authorize(lib, "generate-photoreal", [alice], "owner", "real").allowed


def _session_document(lib, session_id: str) -> str:
    from likeness.consent.tables import EnrolmentSession

    with lib.session() as s:
        return s.get(EnrolmentSession, session_id).document


def _windows_moved(lib, session_id: str) -> bool:
    """Whether the live check moved the session's windows (it waits for a person who is late
    to appear or to turn): a clip rendered beforehand no longer follows them, so what it
    was rendered to show cannot be judged from that try."""
    from likeness.consent.liveness.schedule import ChallengeSession
    from likeness.consent.tables import Enrolment, EnrolmentSession

    with lib.session() as s:
        drawn = ChallengeSession.from_json(json.loads(s.get(EnrolmentSession, session_id).document))
        done = s.scalars(select(Enrolment).where(Enrolment.session_id == session_id)).one()
        judged = [e["window"] for e in json.loads(done.transcript) if "window" in e]
    return any(
        abs(a - c.start) > 1e-6 or abs(b - c.end) > 1e-6
        for (a, b), c in zip(judged, drawn.challenges, strict=False)
    )


def _enrol_in_step(
    url, lib, person: int, camera_page, render, tries: int = 3, in_step: bool = True
):
    """Enrol ``person`` on the live page with a camera playing ``render(session)``; the page
    with its verdict shown.

    A slow start (a busy machine: fewer than three frames before the first prompt) makes the
    live check wait for the person, which a clip rendered beforehand cannot follow: such a
    try is judged on poses out of step with its windows, so it is made again. Not when
    ``in_step`` is False: an attack whose pose is never met makes the check wait too, and is
    refused whatever its timing."""
    for _ in range(tries):
        session, frames = _live_clip(lib, person, render)
        page = camera_page(frames)
        sign_in(page, url)
        page.wait_for_url(f"{url}/people")
        page.goto(f"{url}/people/{person}/enrol?session={session}")
        assert page.eval_on_selector("#preview", "v => getComputedStyle(v).transform") != "none"
        page.click("#start")
        # Prompts appear as words and arrows while the frames are checked (the first
        # challenge's: a print the face mesh never reads as turned or tilted ends there).
        page.wait_for_selector(
            "#prompt[data-kind='left'], #prompt[data-kind='right'], #prompt[data-kind='up']"
        )
        assert page.inner_text("#prompt .arrow") in ("\u2190", "\u2192", "\u2191")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-enrolment-prompt.png"))
        page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
        if not in_step or not _windows_moved(lib, session):
            return page
    pytest.fail(f"the live check moved the windows in {tries} tries: the machine is too busy")


@pytest.mark.slow  # 24 s; `make test-all`
def test_a_flat_photo_before_the_fake_camera_is_refused(server, camera_page):
    from likeness.testing import clips
    from likeness.testing.photos import astronaut

    url, lib, alice, _ = server
    pixels, _ = clips.prepared(astronaut())
    # The face mesh reads a flat photo turned as facing the camera: its first challenge is
    # never met, and the check waits for it before refusing.
    page = _enrol_in_step(
        url, lib, alice, camera_page, lambda s: clips.flat_photo_frames(pixels, s), in_step=False
    )
    assert page.get_attribute("#verdict", "data-passed") == "false"
    assert "not met" in page.inner_text("#verdict .outcome")


def test_a_session_drawn_for_a_recording_is_refused_on_the_enrol_page(server, camera_page):
    from likeness.consent.enrolment import start_enrolment
    from likeness.testing import clips
    from likeness.testing.photos import astronaut

    url, lib, alice, _ = server
    pixels, _ = clips.prepared(astronaut())
    recorded = start_enrolment(lib, alice)  # its schedule was printed for a recording
    page = camera_page([(0.0, pixels), (0.1, pixels)])
    sign_in(page, url)
    page.wait_for_url(f"{url}/people")
    page.goto(f"{url}/people/{alice}/enrol?session={recorded.id}")
    page.click("#start")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "start a live session" in page.inner_text("#error")


def _virtual_authenticator(page, foreign_passkey: bool = False) -> None:
    """Chromium's virtual authenticator (the DevTools WebAuthn domain) on ``page``: a
    platform passkey store that verifies the user at once, as a phone's does after its
    fingerprint. With ``foreign_passkey``, it holds a passkey for this site that the
    library never registered (someone else's)."""
    import base64
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    made = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    if foreign_passkey:
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cdp.send(
            "WebAuthn.addCredential",
            {
                "authenticatorId": made["authenticatorId"],
                "credential": {
                    "credentialId": base64.b64encode(secrets.token_bytes(16)).decode(),
                    "isResidentCredential": True,
                    "rpId": "localhost",
                    "privateKey": base64.b64encode(key).decode(),
                    "userHandle": base64.b64encode(secrets.token_bytes(16)).decode(),
                    "signCount": 0,
                },
            },
        )


@pytest.mark.slow  # 29 s; the same flow over the API: tests/server/test_people_accounts.py
def test_an_invited_person_enrols_makes_a_passkey_and_decides_for_themselves(server, camera_page):
    """Invitation (made on the person's page) -> live enrolment on the invitee's own page
    with the fake camera -> a passkey in Chromium's virtual authenticator -> a permission
    signed on "My likeness" -> sign out, sign in with the passkey alone -> withdrawn; an
    app's request answered by her; erased; a used and an expired link, and a passkey the
    library never registered, refused."""
    from likeness.consent.grants import list_grants
    from likeness.consent.liveness.schedule import ChallengeSession
    from likeness.testing import clips
    from likeness.testing.photos import astronaut

    url, lib, alice, grace = server
    # A WebAuthn relying party is a domain name: this machine's is localhost.
    url = url.replace("127.0.0.1", "localhost")
    pixels, face = clips.prepared(astronaut())
    for attempt in range(3):
        # The camera's clip follows a session the invitee's own browser session draws (a
        # passkey rests only on such a one), so it is written after that draw, before the
        # page asks for the camera (Chromium opens the file then).
        page = camera_page([(0.0, pixels), (0.1, pixels)])
        sign_in(page, url)
        page.wait_for_url(f"{url}/people")
        page.goto(f"{url}/people/{alice}")
        page.click("#invite-form button[type=submit]")
        page.wait_for_selector("#invitation:not([hidden])")
        invitation = page.input_value("#invitation .link")
        assert invitation.startswith(f"{url}/invite/")
        assert page.get_attribute("#invitation .qr", "src").startswith("data:image/svg+xml")
        page.context.clear_cookies()  # the person's phone, not the owner's browser

        page.goto(invitation)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{url}/me/welcome")
        _virtual_authenticator(page)
        drawn = page.evaluate("async () => (await api('POST', '/api/me/enrolment/live')).session")
        session = ChallengeSession.from_json(json.loads(_session_document(lib, drawn)))
        _, frames = _live_clip(
            lib, alice, lambda s: clips.honest_frames(pixels, face.landmarks, s), session
        )
        clips.write_y4m(frames, camera_page.clip(attempt))
        page.goto(f"{url}/me/welcome?session={drawn}")
        page.click("#start")
        page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
        if page.get_attribute("#verdict", "data-passed") == "true":
            break
        # Tried again with a fresh session when the machine was too busy (the live check
        # moved its windows) or when the honest clip was refused on depth evidence, about
        # one session in twenty (issue 24 measures that, not this test).
        refusal = page.inner_text("#verdict")
        assert _windows_moved(lib, drawn) or "bent or folded" in refusal, refusal
    else:
        pytest.fail(f"3 honest live checks were refused, the last: {refusal}")
    page.click("#make-passkey")
    page.wait_for_url(f"{url}/me?enrolment=*")
    assert "My likeness" in page.inner_text("h1")
    # Her page, as the others: screenshotted at both sizes and schemes, checked by axe.
    from tests.support.pages import check_every_look

    assert check_every_look(page, "me") == {}

    page.check("#my-grant-form input[value='generate-stylized']")
    page.click("#my-grant-form button[type=submit]")
    mine = ".my-grant:has-text('generate-stylized')"
    page.wait_for_selector(f"{mine} .state:text('in force')")
    assert "after a live check" in page.inner_text(mine)

    page.click("#sign-out")
    page.wait_for_url(f"{url}/me/sign-in")
    page.click("#passkey-sign-in")
    page.wait_for_url(f"{url}/me")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"{mine} .withdraw")
    page.wait_for_selector(f"{mine} .state:text('withdrawn')")
    # Her own grant is withdrawn; the owner's attested one from the prepared library stays
    # as it was (she may withdraw it too, from the same list).
    signed = [g for g, _ in list_grants(lib, alice) if "generate-stylized" in g.scopes]
    assert len(signed) == 1 and signed[0].revoked_at is not None

    # An app's request, sent on by the owner, is answered by her on her page (not by the
    # owner); then she answers an app's link herself, signed in with her passkey.
    from likeness.apps.registry import register_app
    from likeness.apps.requests import ask_person

    app = register_app(lib, "Postcards", "http://127.0.0.1:9999/callback")
    ask_person(lib, app.id, alice, ["generate-stylized"], 30)
    page.goto(f"{url}/me")
    page.click(".grant-request:has-text('Postcards') .approve-request")
    page.wait_for_selector(".grant-request", state="detached")
    to_app = [g for g, _ in list_grants(lib, alice) if g.grantee == f"app:{app.id}"]
    assert len(to_app) == 1 and to_app[0].in_force(to_app[0].issued_at)
    page.route("http://127.0.0.1:9999/**", lambda route: route.fulfill(body="the app"))
    query = (
        f"response_type=code&client_id={app.id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999"
        "%2Fcallback&scope=generate-stylized&state=s1&code_challenge="
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
    page.goto(f"{url}/oauth/authorize?{query}")
    assert "create images of you" in page.inner_text("#authorize-form")
    page.click("#authorize-form button[value=allow]")
    page.wait_for_url("http://127.0.0.1:9999/callback?*")
    assert "code=" in page.url and "state=s1" in page.url

    # Erase: typed, then refused by name and by face.
    from likeness.consent.policy import authorize
    from likeness.safety.gate import SafetyGate

    page.goto(f"{url}/me")
    page.fill("#erase-form input[name=confirm]", "erase")
    page.click("#erase-form button[type=submit]")
    page.wait_for_selector("#erased")
    from likeness.consent.policy import GateError
    from likeness.workflows import GenerateRequest, authorize_generate

    refused = authorize(lib, "generate-stylized", [alice], f"app:{app.id}", "tiny")
    assert refused.reason == f"person {alice} asked never to be generated"
    with pytest.raises(GateError, match="asked never to be generated"):
        authorize_generate(lib, GenerateRequest("@alice at the beach"))
    gate = SafetyGate(lib, authorize(lib, "generate-stylized", [], "owner", "tiny"))
    verdict = gate.check(np.asarray(astronaut()))
    assert not verdict.allowed and "never to be generated" in verdict.reason

    # Her link, used, and an expired one for Grace open nothing, in words.
    from datetime import timedelta

    from likeness import clock
    from likeness.consent.invitations import invite_person

    _, expired = invite_person(
        lib, grace, timedelta(minutes=5), now=clock.now() - timedelta(hours=1)
    )
    for link in (invitation, f"{url}/invite/{expired}"):
        page.context.clear_cookies()
        page.goto(link)  # its page already says so: no Start to press
        page.wait_for_selector("text=this invitation link is not valid")
        assert page.query_selector("form button[type=submit]") is None
        assert "/me/welcome" not in page.url

    # A passkey this library never registered (another person's, on another device) is
    # refused, and signs no one in.
    other = page.context.browser.new_context().new_page()
    _virtual_authenticator(other, foreign_passkey=True)
    other.goto(f"{url}/me/sign-in")
    other.click("#passkey-sign-in")
    other.wait_for_selector("#error:not([hidden])")
    assert "not registered here" in other.inner_text("#error")  # the server's refusal
    assert "/me/sign-in" in other.url
    assert other.evaluate("fetch('/api/me').then((r) => r.status)") == 401
