"""The dev phone: a person plays a texter through the real signed webhook, over real HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from helpline.app import create_app
from helpline.config import Settings
from helpline.models import Message
from tests.support import Helpline
from workers import runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dev_server(settings: Settings) -> Iterator[tuple[str, Settings]]:
    """The app in dev mode (no Twilio credentials), served for real on 127.0.0.1."""
    port = free_port()
    dev = replace(
        settings,
        twilio_account_sid=None,
        twilio_auth_token=None,
        public_url=f"http://127.0.0.1:{port}",
    )
    server = make_server("127.0.0.1", port, create_app(dev), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    runtime.configure(dev)
    try:
        yield dev.public_url, dev
    finally:
        server.shutdown()
        runtime.configure(settings)


def test_dev_phone_text_is_answered_through_the_real_webhook(
    helpline: Helpline, dev_server: tuple[str, Settings]
) -> None:
    base, _ = dev_server
    helpline.supporter("Sam Rivers")
    browser = requests.Session()
    page = browser.get(base + "/dev/phone")
    assert page.status_code == 200 and "Development tool" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    sent = browser.post(
        base + "/dev/phone/send", data={"body": "hi, anyone there?", "csrf_token": token}
    )
    assert sent.status_code == 200  # redirected back to the phone
    helpline.run_jobs()
    inbound = helpline.db.scalars(select(Message).where(Message.direction == "in")).one()
    assert inbound.body == "hi, anyone there?" and inbound.sid.startswith("SM")
    thread = browser.get(base + "/dev/phone", headers={"HX-Request": "true"}).text
    assert "connected with Sam" in thread
    assert helpline.twilio.requests == 0  # dev mode records, never sends


def test_dev_phone_does_not_exist_when_texts_really_go_out(helpline: Helpline) -> None:
    assert helpline.client.get("/dev/phone").status_code == 404
