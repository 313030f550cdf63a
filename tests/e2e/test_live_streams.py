"""The inbox's event streams on the real `web` process (gunicorn gthread): they never take the
last threads from ordinary requests, and they do not hold up a restart."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.live import feed
from helpline.services import users
from tests.fakes.twilio_api import FakeTwilio
from tests.processes import Service, children, gone, wait_until
from tests.support import PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def service(settings: Settings, fake_twilio: FakeTwilio, db: Session) -> Iterator[Service]:
    users.create_user(db, "sam@example.org", "Sam Rivers", PASSWORD, "supporter")
    db.commit()
    with Service(settings) as running:  # WEB_THREADS=8: at most 6 streams
        yield running


def signed_in(base: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(base + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = browser.post(
        base + "/login",
        data={"email": "sam@example.org", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert answer.status_code == 302
    return browser


def open_stream(browser: requests.Session, base: str) -> requests.Response:
    stream = browser.get(base + "/inbox/events", stream=True, timeout=10)
    assert stream.status_code == 200
    return stream


def first_chunk(stream: requests.Response) -> str:
    return next(stream.iter_content(chunk_size=None)).decode()


def test_streams_beyond_the_limit_are_sent_away_and_requests_still_answer(
    service: Service,
) -> None:
    base = service.public_url
    browser = signed_in(base)
    held = [open_stream(browser, base) for _ in range(6)]
    for stream in held:
        assert first_chunk(stream).startswith("retry: 1000")
    extra = open_stream(browser, base)
    assert f"retry: {feed.BUSY_RETRY_MS}" in first_chunk(extra)
    started = time.monotonic()
    assert browser.get(base + "/inbox").status_code == 200
    assert time.monotonic() - started < 2
    for stream in [*held, extra]:
        stream.close()


@pytest.mark.xfail(
    strict=False,
    reason="known, not yet understood: now and then gunicorn still holds its stop to "
    "graceful_timeout (20 s) with streams open, though each worker ends its streams on "
    "SIGTERM (docs/decisions.md, Live inbox)",
)
def test_web_stops_promptly_with_streams_open(service: Service) -> None:
    base = service.public_url
    browser = signed_in(base)
    streams = [open_stream(browser, base) for _ in range(3)]
    for stream in streams:
        first_chunk(stream)
    web = service.processes[0]
    (gunicorn,) = children(web.pid)  # the Procfile line's shell runs gunicorn's master
    started = time.monotonic()
    os.killpg(web.pid, signal.SIGTERM)
    wait_until(lambda: gone(gunicorn), 30, "gunicorn stopped")
    assert time.monotonic() - started < 5  # not graceful_timeout, nor the streams' lifetime
    for stream in streams:
        stream.close()
