"""The console's settings pages in a real browser at phone width: a text changed with its
segment count live, a program made, a text tested against the risk rules without a reload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from werkzeug.serving import make_server

from helpline.services import programs, settings
from tests.browser.conftest import screenshot
from tests.processes import free_port
from tests.support import PASSWORD, Helpline

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
).expect
pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def console(helpline: Helpline, browser: Browser) -> Iterator[tuple[str, Page]]:
    """A coordinator signed in on a phone-sized page, the app served on a real port."""
    casey = helpline.coordinator()
    port = free_port()
    server = make_server("127.0.0.1", port, helpline.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    page = browser.new_context(viewport=PHONE).new_page()  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Refused" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(base + "/login")
        page.fill("#email", casey.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/inbox")
        yield base, page
        assert errors == []  # no script refused by the CSP, no failure
    finally:
        page.context.close()
        server.shutdown()


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_coordinator_changes_a_text_from_a_phone(
    helpline: Helpline, console: tuple[str, Page]
) -> None:
    base, page = console
    page.click("nav >> text=Settings")
    page.click("nav.subnav >> text=Texts")
    box = page.get_by_label("Text", exact=True).and_(page.locator("#value-text_closed"))
    box.fill("Take care. Text us again any time.")
    expect(page.locator("#count-text_closed")).to_have_text("34 characters · 1 SMS segment")
    box.press("Control+Enter")  # the reply box's shortcut works here too
    expect(page.locator(".notice")).to_contain_text("Text saved.")
    assert fits_the_screen(page)
    screenshot(page, "console-texts-phone")
    helpline.look_again()
    assert settings.load(helpline.db)["text_closed"] == "Take care. Text us again any time."
    page.click("text=Reset closed to default")
    expect(page.locator(".notice")).to_contain_text("back to the default")


def test_a_coordinator_makes_a_program_and_tests_a_text(
    helpline: Helpline, console: tuple[str, Page]
) -> None:
    base, page = console
    page.click("nav >> text=Settings")
    page.click("nav.subnav >> text=Programs")
    page.get_by_label("Name").fill("Youth line")
    page.get_by_label("Helpline numbers, one per line").fill("+1 555 010 0999")
    page.get_by_label("Required skills, separated by commas").fill("youth")
    page.locator("#text_greeting").fill("Hi! You've reached the youth line.")
    page.click("button:has-text('Create program')")
    expect(page.locator("h1")).to_have_text("Program: Youth line")
    assert fits_the_screen(page)
    helpline.look_again()
    program = programs.program_for(helpline.db, "+15550100999")
    assert program is not None and program.required_skills == ["youth"]

    page.click("nav.subnav >> text=Risk rules")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("A text a texter might send").fill("i think i took too many pills")
    page.click("button:has-text('Test')")
    expect(page.locator("#risk-result")).to_contain_text("Urgent.")
    expect(page.locator("#risk-result")).to_contain_text("overdose")
    assert page.evaluate("window.notReloaded") is True  # htmx swapped in only the answer
    assert fits_the_screen(page)
    screenshot(page, "console-risk-phone")
    page.goto(base + "/console/settings")
    assert fits_the_screen(page)
    screenshot(page, "console-settings-phone")
