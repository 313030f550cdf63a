"""A coordinator opens Reports from the console and downloads a CSV through the page."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import Conversation
from tests.browser.conftest import on_shift, screenshot, signed_in
from tests.processes import Service
from tests.report_week import FIRST, LAST, WEEKLY, seed_week

if TYPE_CHECKING:
    from playwright.sync_api import Browser

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
).expect
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.parametrize("service", [1], indirect=True, ids=["one-web"])
def test_a_coordinator_downloads_the_weekly_csv_from_the_reports_page(
    browser: Browser, service: Service, settings: Settings, db: Session
) -> None:
    seed_week(db, settings)
    casey = on_shift(db, "Casey Lee", role="coordinator", status="away")
    base = service.urls[0]
    page = signed_in(browser, base, casey)
    page.goto(base + "/console")
    page.click("nav >> text=Reports")
    expect(page).to_have_url(base + "/console/reports")
    page.fill("#from", FIRST)
    page.fill("#to", LAST)
    page.click("button:has-text('Show')")
    expect(page.locator("[data-figure='conversations']")).to_have_text("4")
    expect(page.locator("#chart-conversations svg title").first).to_have_text(
        "Conversations per day"
    )
    screenshot(page, "console-reports")

    with page.expect_download() as download_info:
        page.click("a[data-csv='weekly']")
    download = download_info.value
    assert download.suggested_filename == f"helpline-weekly-{FIRST}-{LAST}.csv"
    with open(download.path(), newline="") as file:
        header, *rows = list(csv.reader(file))
    assert rows == WEEKLY

    # The conversations the row counts are the ones the database holds for that week.
    db.expire_all()
    opened = db.scalar(
        select(func.count(Conversation.id)).where(
            Conversation.created_at >= datetime(2026, 3, 23, 0, tzinfo=UTC),
            Conversation.created_at < datetime(2026, 3, 29, 23, tzinfo=UTC),
        )
    )
    assert rows[0][header.index("conversations")] == str(opened)
