"""The reply box in a real browser: characters and SMS segments counted as carriers count them
(GSM-7 or UCS-2), a warning past 320 characters, and Ctrl+Enter to send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from helpline.models import CannedResponse, Conversation, utcnow
from helpline.services import canned
from tests.processes import free_port
from tests.support import Helpline

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
).expect
pytestmark = pytest.mark.browser

SEGMENTS = [
    ("hello", "5 characters · 1 SMS segment"),
    ("a" * 160, "160 characters · 1 SMS segment"),
    ("a" * 161, "161 characters · 2 SMS segments"),
    ("a" * 306, "306 characters · 2 SMS segments"),
    ("a" * 307, "307 characters · 3 SMS segments"),
    ("{" * 80, "80 characters · 1 SMS segment"),  # each takes two of the 160
    ("{" * 81, "81 characters · 2 SMS segments"),
    ("I\u2019m here", "8 characters · 1 SMS segment · special characters: 70 per segment"),
    ("\u2019" * 71, "71 characters · 2 SMS segments · special characters"),
    ("\U0001f642" * 35, "35 characters · 1 SMS segment · special characters"),  # 70 units
    ("\U0001f642" * 36, "36 characters · 2 SMS segments · special characters"),
]


@pytest.fixture
def thread_page(helpline: Helpline, browser: Browser) -> Iterator[Page]:
    """Sam's thread with a texter, the app served on a real port in this process."""
    sam = helpline.supporter()
    helpline.text_in("hello?", from_="+15550209101")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    port = free_port()
    server = make_server("127.0.0.1", port, helpline.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    page = browser.new_page()
    try:
        page.goto(base + "/login")
        page.fill("#email", sam.email)
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        page.goto(f"{base}/inbox/conversations/{convo.id}")
        yield page
    finally:
        page.close()
        server.shutdown()


def test_the_reply_box_counts_characters_and_sms_segments(thread_page: Page) -> None:
    counter = thread_page.locator("#reply-counter")
    expect(counter).to_have_text("0 characters · 0 SMS segments")
    for text, shown in SEGMENTS:
        thread_page.fill("#body", text)
        expect(counter).to_contain_text(shown)


def test_a_reply_past_320_characters_is_warned_about(thread_page: Page) -> None:
    warning = thread_page.locator("#reply-long")
    thread_page.fill("#body", "a" * 320)
    expect(warning).to_be_hidden()
    thread_page.fill("#body", "a" * 321)
    expect(warning).to_be_visible()


def test_ctrl_enter_sends_the_reply(thread_page: Page) -> None:
    thread_page.fill("#body", "I'm here. Take your time.")
    thread_page.press("#body", "Control+Enter")
    reply = thread_page.locator("[data-live-thread] li.text.out").last
    expect(reply).to_contain_text("I'm here. Take your time.")


def test_a_canned_response_is_found_by_search_and_put_in_the_reply(
    helpline: Helpline, thread_page: Page
) -> None:
    """Typing filters the list; pressing one fills the reply (name filled in) and counts it."""
    helpline.look_again()
    for title, body in [("Welcome", "Hi, I'm {supporter_first_name}."), ("Goodbye", "Take care.")]:
        canned.save(helpline.db, CannedResponse(), {"title": title, "body": body}, utcnow())
    helpline.db.commit()
    thread_page.reload()
    thread_page.fill("#canned-search", "welc")
    expect(thread_page.get_by_role("button", name="Use: Goodbye")).to_be_hidden()
    thread_page.get_by_role("button", name="Use: Welcome").press("Enter")
    expect(thread_page.locator("#body")).to_have_value("Hi, I'm Sam.")
    expect(thread_page.locator("#body")).to_be_focused()
    expect(thread_page.locator("#reply-counter")).to_contain_text("12 characters")


COUNT_TONES = """
window.tones = 0;
const Real = window.AudioContext;
window.AudioContext = class extends Real {
  createOscillator() { const o = super.createOscillator(); const s = o.start.bind(o);
    o.start = (...a) => { window.tones += 1; return s(...a); }; return o; }
};
"""


def test_the_new_work_sound_is_off_until_turned_on_and_remembered(thread_page: Page) -> None:
    """Off by default; the toggle says its state to screen readers and survives a reload."""
    thread_page.add_init_script(COUNT_TONES)
    thread_page.goto(thread_page.url.split("/inbox/")[0] + "/inbox")
    toggle = thread_page.locator("[data-sound-toggle]")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    new_work = "document.dispatchEvent(new CustomEvent('helpline:new-work'))"
    thread_page.evaluate(new_work)
    assert thread_page.evaluate("window.tones") == 0
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    thread_page.reload()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    thread_page.evaluate(new_work)
    assert thread_page.evaluate("window.tones") == 1
