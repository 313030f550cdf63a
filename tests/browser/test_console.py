"""A coordinator's live board in a real browser: a waiting texter appears without a reload,
and is handed to a supporter from the board."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import Conversation
from tests.browser.conftest import Texter, on_shift, screenshot, signed_in
from tests.fakes.twilio_api import FakeTwilio
from tests.processes import Service

if TYPE_CHECKING:
    from playwright.sync_api import Browser

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
).expect
pytestmark = [pytest.mark.slow, pytest.mark.browser]
POLL_MS = 5000 + 3000  # well within the fallback poll: the board's event stream brings it
LIVE_MS = 3000  # the fallback poll is set to 10 minutes below: only the stream can be this quick


def test_a_text_reaching_another_web_process_appears_on_an_open_board_at_once(
    browser: Browser, settings: Settings, fake_twilio: FakeTwilio, db: Session, tmp_path: Path
) -> None:
    on_shift(db, "Sam Rivers", status="away")  # away: the text waits in the queue
    casey = on_shift(db, "Casey Lee", role="coordinator", status="away")
    with Service(settings, webs=2, logs=tmp_path, extra_env={"BOARD_POLL_S": "600"}) as service:
        board_web, other_web = service.urls
        page = signed_in(browser, board_web, casey)
        page.goto(board_web + "/console")
        page.evaluate("window.notReloaded = true")
        assert "every 600s" in (page.locator("#board").get_attribute("hx-trigger") or "")
        expect(page.locator("table.queue [data-conversation]")).to_have_count(0)
        # No need to wait for the stream to open: it starts after the notices the page saw.

        Texter(settings, service.public_url, "+15550209102").text(other_web, "hello? anyone")
        row = page.locator("table.queue [data-conversation]")
        expect(row).to_have_count(1, timeout=LIVE_MS)
        assert page.evaluate("window.notReloaded") is True
        assert "5550209102" not in page.content()


@pytest.mark.parametrize("service", [1], indirect=True, ids=["one-web"])
def test_a_coordinator_reassigns_a_queued_conversation_from_the_live_board(
    browser: Browser,
    service: Service,
    settings: Settings,
    fake_twilio: FakeTwilio,
    db: Session,
) -> None:
    sam = on_shift(db, "Sam Rivers", status="away")  # away: the text waits in the queue
    casey = on_shift(db, "Casey Lee", role="coordinator", status="away")
    base = service.urls[0]
    page = signed_in(browser, base, casey)
    page.goto(base + "/console")
    page.evaluate("window.notReloaded = true")
    expect(page.locator(".health")).to_contain_text("nobody crisis-trained is on")

    texter = Texter(settings, service.public_url, "+15550209101")
    texter.text(base, "is anyone there? i need to talk")
    row = page.locator("table.queue [data-conversation]")
    expect(row).to_have_count(1, timeout=POLL_MS)
    assert page.evaluate("window.notReloaded") is True  # the poll brought it, not a reload
    assert "5550209101" not in page.content()
    convo_id = int(row.get_attribute("data-conversation") or 0)
    screenshot(page, "console-live-board")

    row.locator("a:has-text('Assign')").click()
    page.select_option("#supporter_id", label="Sam Rivers (away)")
    page.fill("#note", "Sam knows this texter")
    page.click("button:has-text('Hand over')")
    expect(page).to_have_url(base + "/console")
    expect(page.locator(".notice")).to_contain_text(f"Conversation {convo_id} handed to Sam")
    expect(page.locator("table.queue")).to_have_count(0)
    active = page.locator(f"[data-conversation='{convo_id}']")
    expect(active).to_contain_text("Sam Rivers")

    db.expire_all()
    convo = db.scalars(select(Conversation).where(Conversation.id == convo_id)).one()
    assert (convo.status, convo.supporter_id) == ("active", sam.id)
    deadline = time.monotonic() + 10
    while not any("connected with Sam" in m["Body"] for m in fake_twilio.to(texter.number)):
        assert time.monotonic() < deadline, [m["Body"] for m in fake_twilio.to(texter.number)]
        time.sleep(0.05)


@pytest.mark.parametrize("service", [1], indirect=True, ids=["one-web"])
def test_a_new_supporter_with_a_weekly_shift_changes_the_coverage(
    browser: Browser, service: Service, db: Session
) -> None:
    casey = on_shift(db, "Casey Lee", role="coordinator", status="away")
    base = service.urls[0]
    page = signed_in(browser, base, casey)
    page.goto(base + "/console/roster")
    page.fill("#name", "Noor Haddad")
    page.fill("#email", "noor@example.org")
    page.fill("#password", "first-pass-123")
    page.fill("#skills", "crisis")
    page.fill("#max_conversations", "4")
    page.click("button:has-text('Add')")
    expect(page.locator("table.roster")).to_contain_text("Noor Haddad")

    page.goto(base + "/console/calendar")
    monday = page.locator("#shift-day").input_value()
    wednesday = (date.fromisoformat(monday) + timedelta(days=2)).isoformat()
    cell = page.locator(f"[data-cell='{wednesday}T19']")
    expect(cell).to_have_attribute("data-capacity", "0")
    expect(cell).to_contain_text("no crisis")
    page.select_option("#shift-supporter", label="Noor Haddad")
    page.fill("#shift-day", wednesday)
    page.fill("#shift-starts", "18:00")
    page.fill("#shift-ends", "22:00")
    page.select_option("#shift-repeat", "weekly")
    page.click("button:has-text('Add shift')")
    expect(page.locator(".notice")).to_contain_text("Shift added for Noor Haddad")
    expect(cell).to_have_attribute("data-capacity", "4")
    expect(cell).not_to_contain_text("no crisis")
    screenshot(page, "console-calendar")

    page.click("text=Next week →")
    later = (date.fromisoformat(wednesday) + timedelta(days=7)).isoformat()
    expect(page.locator(f"[data-cell='{later}T21']")).to_have_attribute("data-capacity", "4")
    expect(page.locator(f"[data-cell='{later}T22']")).to_have_attribute("data-capacity", "0")
