"""Every page of the web app in a real browser (Debian's Chromium, headless, Playwright), at a
desktop's and a phone's size, light and dark: a screenshot of each is saved as an artifact
(``build/test-artifacts/pages``), and axe-core (vendored, ``vendor/axe-core``) checks each for
serious or critical accessibility violations. Then the browsing flows: people searched, sorted
and paged; a person's photos with their face outlined; a photo's page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from likeness.server import create_app, web
from likeness.server.owner import set_owner_passphrase
from likeness.store import Library
from likeness.testing.libraries import copy_home
from likeness.testing.server import PASSPHRASE, served_on_loopback
from tests.support.pages import ARTIFACTS, VIEWPORTS, check_every_look, check_page
from tests.support.pages import serious_violations as _serious_violations

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: A desktop in light and a phone in dark run by default: both sizes and both schemes; the
#: two other looks are marked slow (`make test-all`), which keeps the default run in time.
LOOKS = [
    ("desktop", "light"),
    pytest.param("phone", "dark", marks=pytest.mark.slow),  # 14 s; `make test-all`
    pytest.param("desktop", "dark", marks=pytest.mark.slow),
    pytest.param("phone", "light", marks=pytest.mark.slow),
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (make test installs it with apt-get)",
    ),
]


@pytest.fixture(scope="module")
def site(two_people_home, tmp_path_factory):
    """A served copy of the two-people library, and an empty library served beside it:
    (url, lib, alice, grace, empty url)."""
    home, alice, grace = two_people_home
    lib = copy_home(home, tmp_path_factory.mktemp("pages") / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    empty = Library.open(tmp_path_factory.mktemp("empty") / "home")
    set_owner_passphrase(empty, PASSPHRASE)
    with served_on_loopback(create_app(lib)) as url, served_on_loopback(create_app(empty)) as bare:
        yield url, lib, alice, grace, bare
    lib.close()
    empty.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _signed_in_page(browser, url: str, viewport: str = "desktop", scheme: str = "light"):
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{url}/sign-in")
    page.fill("input[name=passphrase]", PASSPHRASE)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/people")
    return page


def _pages(lib, alice: int, grace: int) -> dict[str, str]:
    from likeness.people.photos import list_photos

    photo = list_photos(lib, grace, limit=1).photos[0].id
    return {
        "people": "/people",
        "people-search": "/people?search=grace&sort=name",
        "people-none-found": "/people?search=nobody",
        "person": f"/people/{grace}",
        "photos": "/photos",
        "photo": f"/photos/{photo}",
        "unassigned": "/faces/unassigned",
        "create": "/create",
        "jobs": "/jobs",
        "check": "/check",
        "consent": "/consent",
        "apps": "/apps",
        "person-not-found": "/people/999999",
        "bad-address": "/people?page=0",
    }


@pytest.mark.parametrize(("viewport", "scheme"), LOOKS)
def test_every_page_renders_and_is_accessible(site, browser, viewport, scheme):
    url, lib, alice, grace, bare = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = _signed_in_page(browser, url, viewport, scheme)
    problems = {}
    for name, path in _pages(lib, alice, grace).items():
        page.goto(f"{url}{path}")
        page.wait_for_load_state("networkidle")
        # No page is wider than the screen (a phone scrolls down, never sideways).
        if found := check_page(page, f"{name}-{viewport}-{scheme}"):
            problems[name] = found
    empty = _signed_in_page(browser, bare, viewport, scheme)
    for name, path in {"people-empty": "/people", "photos-empty": "/photos"}.items():
        empty.goto(f"{bare}{path}")
        empty.screenshot(path=str(ARTIFACTS / f"{name}-{viewport}-{scheme}.png"), full_page=True)
        assert "Import" in empty.inner_text(".empty")
        if found := _serious_violations(empty):
            problems[name] = found
    empty.goto(f"{bare}/sign-in")
    assert problems == {}


@pytest.mark.parametrize(("viewport", "scheme"), LOOKS)
def test_the_pages_around_the_owners_render_and_are_accessible(site, browser, viewport, scheme):
    """The pages a person meets who is not signed in as the owner (sign-in, an invitation,
    the welcome page of an invitee, a person's sign-in), the live enrolment page and an
    app's approval page: screenshotted and checked by axe like the rest."""
    from likeness.apps.registry import register_app
    from likeness.consent.invitations import invite_person
    from tests.support.apps import authorize_query

    url, lib, _, grace, _ = site
    problems = {}
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
    page = context.new_page()
    _, token = invite_person(lib, grace)
    for name, path in [
        ("sign-in", "/sign-in"),
        ("me-sign-in", "/me/sign-in"),
        ("invite", f"/invite/{token}"),
    ]:
        page.goto(f"{url}{path}")
        if found := check_page(page, f"{name}-{viewport}-{scheme}"):
            problems[name] = found
    page.click("form button[type=submit]")  # the invitation opened: the invitee's welcome
    page.wait_for_url(f"{url}/me/welcome")
    if found := check_page(page, f"me-welcome-{viewport}-{scheme}"):
        problems["me-welcome"] = found
    context.close()
    owner = _signed_in_page(browser, url, viewport, scheme)
    app = register_app(lib, "Postcards", "http://127.0.0.1:9999/callback")
    query = "&".join(f"{k}={v}" for k, v in authorize_query(app.id).items())
    for name, path in [
        ("enrol", f"/people/{grace}/enrol"),
        ("authorize", f"/oauth/authorize?{query}"),
    ]:
        owner.goto(f"{url}{path}")
        if found := check_page(owner, f"{name}-{viewport}-{scheme}"):
            problems[name] = found
    assert "Postcards" in owner.inner_text("#authorize-form")
    assert problems == {}


def test_the_empty_library_says_how_to_begin(site, browser):
    *_, bare = site
    page = _signed_in_page(browser, bare)
    assert "No people yet" in page.inner_text(".empty")
    assert page.locator(".empty a[href='/jobs']").count() == 1
    page.goto(f"{bare}/photos")
    assert "No photos yet" in page.inner_text(".empty")


def test_people_are_found_by_name_sorted_and_paged(site, browser, monkeypatch):
    url, _, alice, grace, _ = site
    page = _signed_in_page(browser, url)
    page.fill("input[name=search]", "hopper")
    page.press("input[name=search]", "Enter")
    page.wait_for_url("**/people?search=hopper*")
    assert [
        int(i)
        for i in page.locator(".person").evaluate_all("cards => cards.map(c => c.dataset.id)")
    ] == [grace]
    assert "1 person" in page.inner_text("#people-count")
    page.fill("input[name=search]", "zzz")
    page.press("input[name=search]", "Enter")
    page.wait_for_url("**/people?search=zzz*")
    assert "No one is called" in page.inner_text(".empty")
    # Sorted by name: Alice, then Grace Hopper; one person a page, with a way on and back.
    monkeypatch.setattr(web, "PEOPLE_PER_PAGE", 1)
    page.goto(f"{url}/people")
    page.select_option("select[name=sort]", "name")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/people?*sort=name*")
    assert page.locator(".person").get_attribute("data-id") == str(alice)
    assert "Page 1 of 2" in page.inner_text(".pager")
    page.click(".pager a[rel=next]")
    page.wait_for_url("**page=2*")
    assert page.locator(".person").get_attribute("data-id") == str(grace)
    assert "sort=name" in page.url  # the sort is kept from page to page
    page.click(".pager a[rel=prev]")
    page.wait_for_url("**page=1*")
    assert page.locator(".person").get_attribute("data-id") == str(alice)


def test_a_persons_photos_show_their_face_outlined_and_lead_to_the_photo(site, browser):
    from likeness.faces.listing import list_faces

    url, lib, _, grace, _ = site
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/people/{grace}")
    tiles = page.locator("#photos .photos a")
    assert tiles.count() >= 1
    theirs = {f["id"]: f for f in list_faces(lib, grace)}
    outlined = page.locator("#photos rect.outline")
    # Each tile outlines this person's face only, where the catalog says it is.
    for i in range(outlined.count()):
        rect = outlined.nth(i)
        face = theirs[int(rect.get_attribute("data-face"))]
        x0, y0, x1, y1 = face["box"]
        assert (
            float(rect.get_attribute("x")) == x0 and float(rect.get_attribute("width")) == x1 - x0
        )
        assert (
            float(rect.get_attribute("y")) == y0 and float(rect.get_attribute("height")) == y1 - y0
        )
    # The thumbnail loaded (a real JPEG of the photo, drawn under the outline).
    image = page.locator("#photos svg image").first
    assert image.evaluate("i => i.getBBox().width") > 0
    tiles.first.click()
    page.wait_for_url("**/photos/*")
    assert (
        page.locator(f".people-on-photo a[href='/people/{grace}']").inner_text() == "Grace Hopper"
    )
    assert page.locator(".photo-view rect.outline").count() >= 1
    assert "MP" in page.inner_text("dl.facts")
    # The photo's faces lead back to their people; the thumbnail is the 1,600 px one.
    assert "size=1600" in page.locator(".photo-view image").get_attribute("href")


def test_an_unknown_photo_or_person_is_a_page_not_json(site, browser):
    url, *_ = site
    page = _signed_in_page(browser, url)
    response = page.goto(f"{url}/photos/999999")
    assert response.status == 404 and "no photo with id 999999" in page.inner_text(".problem")
    response = page.goto(f"{url}/people?sort=shoe-size")
    assert response.status == 422 and "sort" in page.inner_text(".problem")
    assert page.locator("header nav a[href='/people']").count() == 1  # the app's frame


def test_faces_of_nobody_become_a_new_person(site, browser):
    from likeness.faces.listing import list_faces
    from likeness.people.manage import list_people, move_faces

    url, lib, _, grace, _ = site
    before = len(list_faces(lib, unassigned=True))
    face = list_faces(lib, grace)[-1]["id"]
    move_faces(lib, [face], None)
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/faces/unassigned")
    assert f"{before + 1} faces no one has been found for" in page.inner_text("main")
    page.check(f"input[name=face][value='{face}']")
    page.select_option("#assign select[name=person]", "new")
    page.fill("#assign input[name=name]", "Commodore")
    page.click("#assign button[type=submit]")
    page.locator(f"input[name=face][value='{face}']").wait_for(state="detached")
    [new] = [p for p in list_people(lib) if p.name == "Commodore"]
    assert [f["id"] for f in list_faces(lib, new.id)] == [face]


def test_is_this_alice_merges_after_a_preview_and_is_undone(site, browser):
    """A group split off Alice asks "Is this Alice?" on its page; yes shows the merge's preview
    (checked by axe with the dialog open), merges, and the merge is undone from Alice's page."""
    from likeness.faces.listing import list_faces
    from likeness.people.manage import list_people, split_person

    url, lib, alice, _, _ = site
    faces = [f["id"] for f in list_faces(lib, alice)]
    part = split_person(lib, alice, faces[:2])
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/people/{part}")
    suggestion = page.locator(".suggestion")
    assert suggestion.count() == 1 and "Is this Alice?" in suggestion.inner_text()
    suggestion.locator("button.same-person").click()
    page.locator("#merge-dialog[open]").wait_for()
    assert "2 faces on 2 photos" in page.inner_text("#merge-preview")
    assert check_every_look(page, "merge-preview") == {}
    page.click("#merge-confirm")
    page.wait_for_url(f"{url}/people/{alice}")
    assert part not in [p.id for p in list_people(lib)]
    assert len(list_faces(lib, alice)) == len(faces)
    page.click(".merge-record .undo-merge")
    page.locator("#flash a").wait_for()
    assert sorted(f["id"] for f in list_faces(lib, part)) == sorted(faces[:2])
    page.click("#flash a")
    page.wait_for_url(f"{url}/people/{part}")
    from likeness.people.merges import merge_people

    merge_people(lib, alice, part)  # as it was, for the tests after this one


@pytest.fixture(scope="module")
def large_site(two_people_home, tmp_path_factory):
    """The two-people library grown to 300 more people and 3,000 faces."""
    from likeness.testing.libraries import grow_library

    home, *_ = two_people_home
    root = tmp_path_factory.mktemp("large")
    lib = copy_home(home, root / "home")
    grow_library(lib, people=300, faces_per_person=10, folder=root / "grown")
    set_owner_passphrase(lib, PASSPHRASE)
    with served_on_loopback(create_app(lib)) as url:
        yield url, lib
    lib.close()


def test_a_large_library_is_shown_a_page_at_a_time(large_site, browser):
    from likeness.people.manage import find_people

    url, lib = large_site
    everyone = find_people(lib)
    assert everyone.total == 302
    page = _signed_in_page(browser, url)
    assert page.locator(".person").count() == web.PEOPLE_PER_PAGE
    pages = -(-everyone.total // web.PEOPLE_PER_PAGE)
    assert f"Page 1 of {pages}" in page.inner_text(".pager")
    assert f"{everyone.total} people" in page.inner_text("#people-count")
    # The person on most photos: photos and faces both paged.
    top = everyone.people[0]
    assert top.face_count > web.FACES_PER_PAGE
    page.goto(f"{url}/people/{top.id}")
    assert page.locator("#photos .photos a").count() == min(top.photo_count, web.PHOTOS_PER_PAGE)
    assert page.locator("#faces .face").count() == web.FACES_PER_PAGE
    page.click("#faces .pager a[rel=next]")
    page.wait_for_url("**faces_page=2*")
    assert page.locator("#faces .face").count() == min(
        web.FACES_PER_PAGE, top.face_count - web.FACES_PER_PAGE
    )
    # The library by date: a month under each heading, newest first.
    page.goto(f"{url}/photos")
    months = page.locator(".timeline h2").all_inner_texts()
    from datetime import datetime

    dates = [datetime.strptime(m, "%B %Y") for m in months]
    assert dates == sorted(dates, reverse=True) and len(dates) > 1
    assert page.locator(".timeline .photos a").count() == web.PHOTOS_PER_PAGE


def test_the_audit_log_reads_as_sentences_filtered_with_the_raw_entry_a_click_away(site, browser):
    from likeness.consent.grants import Scope, Trust, issue_grant

    url, lib, alice, grace, _ = site
    grant = issue_grant(lib, grace, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/consent")
    card = page.locator(f".grant[data-id='{grant.id}']")
    assert "make images of them in a drawn or painted style" in card.inner_text()
    assert "in force" in card.locator(".state").inner_text()
    page.select_option("select[name=kind]", "grant")
    page.select_option("form[aria-label='Filter the audit log'] select[name=person]", str(grace))
    page.click("form[aria-label='Filter the audit log'] button[type=submit]")
    page.wait_for_url("**kind=grant*")
    lines = page.locator(".log-line")
    assert lines.count() >= 1
    assert all(k == "grant" for k in lines.evaluate_all("ls => ls.map(l => l.dataset.kind)"))
    first = lines.first
    assert "signed a permission of Grace Hopper" in first.locator(".words").inner_text()
    raw = first.locator("details pre")
    assert not raw.is_visible()
    first.locator("summary").click()
    assert grant.id in raw.inner_text()
    page.select_option("select[name=kind]", "erase")
    page.click("form[aria-label='Filter the audit log'] button[type=submit]")
    page.wait_for_url("**kind=erase*")
    assert "No entry matches" in page.inner_text("main")
    assert alice != grace


def test_creating_keeps_the_form_shows_a_signed_gallery_a_report_and_deletes(site, browser):
    """A prompt naming no one needs no grant: made on the tiny model, two steps."""
    url, *_ = site
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/create")
    # No one has a photoreal grant here: a drawn style is preselected, and the page says why.
    assert page.locator("select[name=style]").input_value() != ""
    assert "Photo style is locked" in page.inner_text("#style-note")
    page.fill("#prompt", "a lighthouse at dusk")
    page.fill("input[name=steps]", "2")
    page.click("#create-form button[type=submit]")
    page.wait_for_selector(".job.creation[data-live='false'] .gallery figure", timeout=120_000)
    # The form kept what was asked.
    assert page.input_value("#prompt") == "a lighthouse at dusk"
    assert page.input_value("input[name=steps]") == "2"
    figure = page.locator(".job.creation .gallery figure").first
    assert "Made with likeness · signed" in figure.locator(".badge.provenance").inner_text()
    assert figure.locator("a[download]").count() == 1
    assert figure.locator("img").evaluate("i => i.naturalWidth") > 0
    assert check_every_look(page, "create-results") == {}
    figure.locator("a", has_text="report").click()
    page.wait_for_url("**/jobs/*/images/0")
    assert "intact, signed" in page.inner_text("#credentials")
    assert "naming no one" in page.inner_text("#credentials")
    assert "not allowed" in page.inner_text("#credentials")
    assert check_every_look(page, "image-report") == {}
    assert '"state"' in page.locator("details pre").text_content()
    # The Jobs page with a finished generation in it, as every page is looked at.
    page.goto(f"{url}/jobs")
    assert "a lighthouse at dusk" in page.inner_text("table")
    assert check_every_look(page, "jobs-with-a-job") == {}
    # Delete: confirmed first, then the job and its images are gone.
    page.goto(f"{url}/create")
    job = page.locator(".job.creation").first.get_attribute("data-id")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f".job[data-id='{job}'] button.delete")
    page.locator(f".job[data-id='{job}']").wait_for(state="detached")
    assert page.goto(f"{url}/jobs/{job}/images/0").status == 404


def test_an_image_found_online_is_checked_from_its_page(site, browser, tmp_path):
    """A turned, cropped copy of an output is traced to it; a photo that is not one says so;
    a file that is no image is refused with the reason. The file's name is shown as text."""
    import io

    import numpy as np
    from PIL import Image

    from likeness.provenance.credentials import GenerationRecord
    from likeness.provenance.stamp import stamp_image
    from likeness.testing.photos import scenery

    url, lib, *_ = site
    picture = np.asarray(scenery(11, (512, 384))) // 2
    picture = picture + np.random.default_rng(5).integers(0, 60, picture.shape, dtype=np.uint8)
    stamped = stamp_image(lib, picture, "png", GenerationRecord("o.png", "tiny-sd15", "0" * 64))
    turned = Image.open(io.BytesIO(stamped.data)).rotate(4).crop((30, 30, 480, 360))
    copy = tmp_path / "<img src=x onerror=alert(1)>.jpg"
    turned.convert("RGB").save(copy, quality=85)
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/check")
    page.set_input_files("#check-file", str(copy))
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#check-result:not([hidden])")
    verdict = "<img src=x onerror=alert(1)>.jpg: made by this library"
    assert page.inner_text("#check-verdict") == verdict  # text, never markup
    facts = page.inner_text("#check-facts")
    assert f"output {stamped.watermark_id:08x}" in facts and "turned 4° to the left" in facts
    assert check_every_look(page, "check-found") == {}
    other = tmp_path / "holiday.jpg"
    scenery(12, (400, 300)).save(other, quality=90)
    page.set_input_files("#check-file", str(other))
    page.click("#check-form button[type=submit]")
    page.locator("#check-verdict", has_text="holiday.jpg").wait_for()
    assert page.inner_text("#check-verdict") == "holiday.jpg: not one of this library's images"
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    page.set_input_files("#check-file", str(notes))
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "notes.png: not a PNG, JPEG or WebP image"


def test_enrolment_without_a_camera_says_so_and_offers_to_try_again(site, browser):
    """No camera in this machine: said in words with what to do (not the browser's "Requested
    device not found"), before a live session is spent, and Start becomes Try again."""
    from likeness.consent.tables import EnrolmentSession

    url, lib, _, grace, _ = site

    def sessions() -> int:
        with lib.session() as s:
            return s.query(EnrolmentSession).count()

    before = sessions()
    context = browser.new_context(viewport=VIEWPORTS["phone"], permissions=["camera"])
    page = context.new_page()
    page.goto(f"{url}/sign-in")
    page.fill("input[name=passphrase]", PASSPHRASE)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/people")
    page.goto(f"{url}/people/{grace}/enrol")
    page.click("#start")
    page.locator("#error:not([hidden])").wait_for()
    assert "No camera was found" in page.inner_text("#error")
    assert page.inner_text("#start") == "Try again" and page.is_enabled("#start")
    page.click("#start")  # tried again: the same answer, still no session spent
    page.locator("#error:not([hidden])").wait_for()
    assert "No camera was found" in page.inner_text("#error")
    context.close()
    assert sessions() == before


def test_enrolment_explains_a_refused_camera_and_an_insecure_page(
    two_people_home, tmp_path, browser
):
    """A camera this site was refused, and a page opened over plain http by a network name
    (http://likeness.test, not this computer): each is said before Start is pressed, and
    again with what to do when it is."""
    home, _, grace = two_people_home
    lib = copy_home(home, tmp_path / "home")
    set_owner_passphrase(lib, PASSPHRASE)
    app = create_app(lib, hosts=["likeness.test"])
    with served_on_loopback(app) as url:
        port = url.rsplit(":", 1)[1]
        # Another Chromium of the same Playwright, with a camera and a name for this machine.
        browser = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",  # a camera, which the site is refused
                "--host-resolver-rules=MAP likeness.test 127.0.0.1",
            ],
        )
        for origin, words in [
            (url, "camera was not allowed"),
            (f"http://likeness.test:{port}", "likeness serve --tls"),
        ]:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{origin}/sign-in")
            page.fill("input[name=passphrase]", PASSPHRASE)
            page.click("button[type=submit]")
            page.wait_for_url(f"{origin}/people")
            cdp = context.new_cdp_session(page)
            own = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
            if origin == url:  # (an insecure page has no camera permission to set)
                cdp.send(  # as a person who once answered the camera prompt with Block
                    "Browser.setPermission",
                    {
                        "permission": {"name": "camera"},
                        "setting": "denied",
                        "origin": origin,
                        "browserContextId": own,
                    },
                )
            page.goto(f"{origin}/people/{grace}/enrol")
            page.locator("#camera-help:not([hidden])").wait_for()
            assert words in page.inner_text("#camera-help")
            page.click("#start")
            page.locator("#error:not([hidden])").wait_for()
            assert words in page.inner_text("#error")
            assert page.inner_text("#start") == "Try again"
            context.close()
        browser.close()
    lib.close()


def test_a_generation_shows_its_image_and_step_and_is_cancelled_from_the_jobs_page(site, browser):
    """Eight images of 150 steps on the tiny model: the Jobs page follows it live in words
    ("image 1 of 8 · step 12 of 150") with a progress bar, and Cancel stops it."""
    import re

    url, *_ = site
    page = _signed_in_page(browser, url)
    page.goto(f"{url}/create")
    page.fill("#prompt", "a long exposure of the sea")
    page.fill("input[name=count]", "8")
    page.fill("input[name=steps]", "150")
    page.click("#create-form button[type=submit]")
    page.wait_for_selector(".job.creation")
    page.goto(f"{url}/jobs")
    row = page.locator(".job", has_text="a long exposure of the sea")
    progress = row.locator(".progress")
    progress.filter(has_text=re.compile(r"image \d of 8 · step \d+ of 150")).wait_for(
        timeout=120_000
    )
    assert row.locator("progress").count() == 1
    row.locator("button.cancel").click()
    row.locator(".state", has_text="cancelled").wait_for(timeout=60_000)
    assert row.locator("button.delete").count() == 1


def test_people_are_merged_or_not_from_the_keyboard(site, browser):
    """The first Tab reaches "Skip to the page"; each control shows a focus ring; people are
    selected with Space and the merge opened with Enter, its dialog holding the focus, and
    Escape leaves everyone as they were."""
    from likeness.people.manage import list_people

    url, lib, alice, grace, _ = site
    page = _signed_in_page(browser, url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the page"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    before = sorted(p.id for p in list_people(lib))
    for person in (alice, grace):
        page.focus(f"input[name=person][value='{person}']")
        page.keyboard.press("Space")
    page.focus("#merge")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineWidth")
    assert ring == "3px", ring
    page.keyboard.press("Enter")
    page.locator("#merge-dialog[open]").wait_for()
    assert page.evaluate("document.getElementById('merge-dialog').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.locator("#merge-dialog:not([open])").wait_for(state="attached")
    assert sorted(p.id for p in list_people(lib)) == before
