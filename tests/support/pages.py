"""What the browser tests share: where screenshots go, and axe-core's serious findings on a
page (vendored at ``tests/server/vendor/axe-core``)."""

from __future__ import annotations

import os
from pathlib import Path

ARTIFACTS = Path(os.environ.get("LIKENESS_TEST_ARTIFACTS", "build/test-artifacts")) / "pages"
AXE = Path(__file__).parents[1] / "server" / "vendor" / "axe-core" / "axe.min.js"


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is (evaluated through the
    DevTools protocol, which the pages' CSP does not govern)."""
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(found)


def check_page(page, name: str) -> list[str]:
    """Screenshot the page (whole) as ``name`` under ``ARTIFACTS``, check it is no wider than
    the screen, and return axe-core's serious findings."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} is {overflow} px wider than the screen"
    return serious_violations(page)


#: The sizes every page is looked at: a desktop's and a phone's.
VIEWPORTS = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}


def check_every_look(page, name: str) -> dict[str, list[str]]:
    """``check_page`` the page as it is at both sizes, light and dark (the screenshots are
    ``name-SIZE-SCHEME``); axe's findings by look, only where there are some. The page is
    left at the desktop size, light."""
    problems = {}
    for size, viewport in VIEWPORTS.items():
        for scheme in ("light", "dark"):
            page.set_viewport_size(viewport)
            page.emulate_media(color_scheme=scheme)
            if found := check_page(page, f"{name}-{size}-{scheme}"):
                problems[f"{size}-{scheme}"] = found
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.emulate_media(color_scheme="light")
    return problems
