"""A supporter's shift in a real browser: texts arrive, replies go out and are delivered,
conversations are transferred and closed, all without a reload, across one or two `web`
processes (the texter's webhooks reach the other process than the supporter's page)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from helpline.config import Settings
from tests.browser.conftest import PHONE, Texter, on_shift, screenshot, signed_in
from tests.fakes.twilio_api import FakeTwilio
from tests.processes import Service

if TYPE_CHECKING:
    from playwright.sync_api import Browser

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
).expect
pytestmark = [pytest.mark.slow, pytest.mark.browser]
LIVE_S = 2.0  # the bound: a change shows within 2 s, without a reload


def test_a_supporter_works_a_conversation_from_first_text_to_close(
    browser: Browser,
    service: Service,
    settings: Settings,
    fake_twilio: FakeTwilio,
    db: Session,
) -> None:
    sam = on_shift(db, "Sam Rivers")
    ivy = on_shift(db, "Ivy Chen", status="away")  # so the first text goes to Sam
    mine, other = service.urls[0], service.urls[-1]
    texter = Texter(settings, service.public_url, "+15550209001")
    page = signed_in(browser, mine, sam)
    page.evaluate("window.notReloaded = true")

    # A text through the signed webhook shows in the inbox, without a reload, within 2 s.
    texter.text(other, "hi, is anyone there? rough night")
    row = page.locator("[data-conversation]")
    started = time.monotonic()
    expect(row).to_be_visible(timeout=LIVE_S * 1000)
    print(f"new conversation shown {time.monotonic() - started:.2f} s after the webhook answered")
    assert page.evaluate("window.notReloaded") is True
    convo_id = row.get_attribute("data-conversation")
    screenshot(page, "inbox")

    # Reply, and see Twilio's delivery callback tick it as delivered.
    row.locator("a").click()
    thread = page.locator("[data-live-thread]")
    expect(thread).to_contain_text("rough night")
    page.fill("#body", "I'm here with you. What's making tonight rough?")
    page.click("button:has-text('Send')")
    reply = thread.locator("li.text.out").last
    expect(reply).to_contain_text("What's making tonight rough?")
    sent = fake_twilio.wait_for(2, timeout=10)[-1]
    assert sent["Body"] == "I'm here with you. What's making tonight rough?"
    page.evaluate("window.notReloaded = true")
    texter.delivered(other, sent["sid"])
    expect(reply.locator(".delivery")).to_have_text("delivered", timeout=LIVE_S * 1000)
    texter.text(other, "my sister isn't picking up")
    expect(thread).to_contain_text("my sister isn't picking up", timeout=LIVE_S * 1000)
    assert page.evaluate("window.notReloaded") is True
    assert "5550209001" not in page.content()  # the texter is an alias, never a number
    screenshot(page, "thread")
    thread_url = page.url

    # Another supporter cannot open it by its URL.
    ivys = signed_in(browser, other, ivy)
    refused = ivys.goto(f"{mine}/inbox/conversations/{convo_id}")
    assert refused is not None and refused.status == 404
    ivys.goto(other + "/inbox")

    # Transfer to Ivy with a note: it leaves Sam's inbox and reaches Ivy's, live.
    page.click("summary:has-text('Transfer')")
    page.select_option("#target", label="Ivy Chen (away)")
    page.fill("#transfer-note", "Her sister isn't answering; ask about tonight.")
    page.click("button:has-text('Transfer')")
    expect(page).to_have_url(mine + "/inbox")
    expect(page.locator("[data-conversation]")).to_have_count(0)
    expect(ivys.locator(f"[data-conversation='{convo_id}']")).to_be_visible(timeout=LIVE_S * 1000)
    gone = page.goto(thread_url)
    assert gone is not None and gone.status == 404

    # Ivy reads the note and closes the conversation; the texter gets the closing text.
    ivys.locator(f"[data-conversation='{convo_id}'] a").click()
    expect(ivys.locator("[data-live-thread]")).to_contain_text("ask about tonight")
    ivys.click("summary:has-text('Close')")
    ivys.select_option("#outcome", "safety_plan")
    ivys.fill("#note", "safe with her sister tonight")
    ivys.click("button:has-text('Close conversation')")
    expect(ivys).to_have_url(other + "/inbox")
    expect(ivys.locator("[data-conversation]")).to_have_count(0)
    closing = fake_twilio.wait_for(4, timeout=10)[-1]
    assert closing["To"] == texter.number and "ended" in closing["Body"]


def test_an_open_thread_says_so_at_once_when_a_coordinator_moves_it(
    browser: Browser,
    service: Service,
    settings: Settings,
    fake_twilio: FakeTwilio,
    db: Session,
) -> None:
    sam = on_shift(db, "Sam Rivers")
    casey = on_shift(db, "Casey Lee", role="coordinator", status="away", skills=["crisis"])
    mine, other = service.urls[0], service.urls[-1]
    texter = Texter(settings, service.public_url, "+15550209002")
    page = signed_in(browser, mine, sam, viewport=PHONE)
    texter.text(other, "can't sleep again")
    page.locator("[data-conversation] a").click(timeout=LIVE_S * 1000)
    expect(page.locator("[data-live-thread]")).to_contain_text("can't sleep again")
    screenshot(page, "thread-phone")
    convo_id = page.locator("[data-live-thread]").get_attribute("data-live-thread")

    coordinator = signed_in(browser, other, casey)
    coordinator.goto(f"{other}/inbox/conversations/{convo_id}")
    coordinator.click("summary:has-text('Transfer')")
    coordinator.select_option("#target", label="Supporters trained in crisis")
    coordinator.click("button:has-text('Transfer')")

    expect(page.locator("[data-live-thread]")).to_contain_text(
        "no longer in your inbox", timeout=LIVE_S * 1000
    )
    expect(page.locator("#body")).to_have_count(0)  # nothing left to type into
