"""Browser tests: Playwright for Python drives Debian's chromium against the real processes.

Browsers cannot be downloaded here, so Playwright is pointed at the system's chromium
(CHROMIUM_PATH, else `chromium` on PATH). Where it is missing these tests skip and say so;
`make test` installs it when it runs as root, as CI does. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import User, utcnow
from helpline.services import shifts, users
from tests.fakes.twilio_api import FakeTwilio
from tests.processes import ROOT, Service
from tests.support import HELPLINE_NUMBER, PASSWORD, message_sid, sign

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium()
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path)
        yield launched
        launched.close()


@pytest.fixture(params=[1, 2], ids=["one-web", "two-webs"])
def service(
    request: pytest.FixtureRequest, settings: Settings, fake_twilio: FakeTwilio, tmp_path: Path
) -> Iterator[Service]:
    """release, then one or two `web` processes on their own ports, and a `worker`."""
    with Service(settings, webs=request.param, logs=tmp_path) as running:
        yield running


def on_shift(db: Session, name: str, status: str = "available", **fields: object) -> User:
    email = f"{name.split()[0].lower()}@example.org"
    user = users.create_user(db, email, name, PASSWORD, fields.pop("role", "supporter"), **fields)
    user.status = status
    shifts.create_shift(db, user.id, utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=4))
    db.commit()
    return user


def signed_in(browser: Browser, base: str, user: User, viewport: dict[str, int] = LAPTOP) -> Page:
    page = browser.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
    page.goto(base + "/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/inbox")
    return page


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Texter:
    """Someone texting the line: Twilio's signed webhooks, sent to the web process given."""

    settings: Settings
    public_url: str
    number: str

    def text(self, base: str, body: str) -> None:
        self._post(
            base,
            "/twilio/messages",
            {
                "MessageSid": message_sid(),
                "AccountSid": self.settings.twilio_account_sid or "",
                "From": self.number,
                "To": HELPLINE_NUMBER,
                "Body": body,
                "NumMedia": "0",
            },
        )

    def delivered(self, base: str, sid: str) -> None:
        """Twilio's status callback for a text sent to this texter."""
        self._post(
            base,
            "/twilio/status",
            {
                "MessageSid": sid,
                "MessageStatus": "delivered",
                "AccountSid": self.settings.twilio_account_sid or "",
            },
        )

    def _post(self, base: str, path: str, form: dict[str, str]) -> None:
        signature = sign(self.settings.webhook_auth_token, self.public_url + path, form)
        answer = requests.post(
            base + path,
            data=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
            timeout=10,
        )
        assert answer.status_code in (200, 204), answer.text
