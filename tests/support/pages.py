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
