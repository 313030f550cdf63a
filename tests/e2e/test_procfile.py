"""The real processes from the Procfile, driven from outside over HTTP as Twilio and a supporter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import utcnow
from helpline.services import shifts, users
from tests.fakes.twilio_api import FakeTwilio
from tests.support import HELPLINE_NUMBER, PASSWORD, message_sid, sign

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def service(settings: Settings, fake_twilio: FakeTwilio) -> Iterator[str]:
    """release, then web and worker as separate processes; yields the web's base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PUBLIC_URL": base,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid or "",
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token or "",
        "TWILIO_API_BASE_URL": settings.twilio_api_base_url,
        "HELPLINE_INSTANCE_PATH": str(settings.instance_path),
        "WEB_CONCURRENCY": "1",
    }
    lines = procfile()
    subprocess.run(lines["release"], shell=True, env=env, cwd=ROOT, check=True, capture_output=True)
    processes = [
        subprocess.Popen(
            lines[name],
            shell=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("web", "worker")
    ]
    try:
        wait_until(lambda: requests.get(base + "/api/v1/health").status_code == 200, 30)
        yield base
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_text_in_supporter_reply_out_across_real_processes(
    service: str, settings: Settings, fake_twilio: FakeTwilio, db: Session
) -> None:
    """text in -> assigned -> greeting out -> supporter reply via API -> text out, all over HTTP."""
    sam = users.create_user(db, "sam@example.org", "Sam Rivers", PASSWORD, "supporter")
    sam.status = "available"
    shifts.create_shift(db, sam.id, utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=3))
    db.commit()
    texter = "+15550209999"
    form = {
        "MessageSid": message_sid(),
        "AccountSid": settings.twilio_account_sid or "",
        "From": texter,
        "To": HELPLINE_NUMBER,
        "Body": "I can't sleep again",
        "NumMedia": "0",
    }
    signature = sign(settings.webhook_auth_token, service + "/twilio/messages", form)
    answer = requests.post(
        service + "/twilio/messages",
        data=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert answer.status_code == 200 and "<Response/>" in answer.text

    (greeting,) = fake_twilio.wait_for(1, timeout=20)
    assert greeting["To"] == texter and greeting["From"] == HELPLINE_NUMBER
    assert "Sam" in greeting["Body"]
    assert greeting["StatusCallback"] == service + "/twilio/status"

    token = requests.post(
        service + "/api/v1/tokens", json={"email": "sam@example.org", "password": PASSWORD}
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    (convo,) = requests.get(service + "/api/v1/conversations?status=active", headers=auth).json()[
        "items"
    ]
    assert texter not in str(convo)  # supporters never see the number
    reply = requests.post(
        service + f"/api/v1/conversations/{convo['id']}/messages",
        headers=auth,
        json={"body": "I'm here. What's keeping you up?"},
    )
    assert reply.status_code == 202

    sent = fake_twilio.wait_for(2, timeout=20)
    fields = ("To", "From", "Body", "StatusCallback")
    assert {k: sent[1][k] for k in fields} == {
        "To": texter,
        "From": HELPLINE_NUMBER,
        "Body": "I'm here. What's keeping you up?",
        "StatusCallback": service + "/twilio/status",
    }
