"""The real processes from the Procfile, driven from outside over HTTP as Twilio and a supporter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import utcnow
from helpline.services import shifts, users
from tests.fakes.twilio_api import FakeTwilio
from tests.processes import Service
from tests.support import HELPLINE_NUMBER, PASSWORD, message_sid, sign

pytestmark = pytest.mark.slow


@pytest.fixture
def service(settings: Settings, fake_twilio: FakeTwilio) -> Iterator[str]:
    """release, then web and worker as separate processes; yields the web's base URL."""
    with Service(settings) as running:
        yield running.public_url


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
