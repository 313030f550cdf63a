"""The Procfile's web and worker as an operator runs them: JSON log lines with ids and no
texter in them, and one /metrics that counts what every process did."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import utcnow
from helpline.services import shifts, users
from tests.fakes.twilio_api import FakeTwilio
from tests.processes import Service, wait_until
from tests.support import HELPLINE_NUMBER, PASSWORD, message_sid, sign

pytestmark = pytest.mark.slow
TOKEN = "e2e-metrics-token-0123456789"
TEXTER = "+15550208123"
WORDS = "the bridge at night again"


@dataclass
class Running:
    base: str
    stderr: dict[str, Path]


@pytest.fixture
def service(settings: Settings, fake_twilio: FakeTwilio, tmp_path: Path) -> Iterator[Running]:
    extra = {"WEB_CONCURRENCY": "2", "METRICS_TOKEN": TOKEN, "LOG_FORMAT": "json"}
    with Service(settings, logs=tmp_path, extra_env=extra) as service:
        port = service.ports[0]
        logs = {name: tmp_path / f"{name}-{port}.log" for name in ("web", "worker")}
        yield Running(service.public_url, logs)


def text_in(service: Running, settings: Settings) -> requests.Response:
    form = {
        "MessageSid": message_sid(),
        "AccountSid": settings.twilio_account_sid or "",
        "From": TEXTER,
        "To": HELPLINE_NUMBER,
        "Body": WORDS,
        "NumMedia": "0",
    }
    signature = sign(settings.webhook_auth_token, service.base + "/twilio/messages", form)
    return requests.post(
        service.base + "/twilio/messages",
        data=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "X-Request-ID": "e2e-text-1",
        },
    )


def metrics(service: Running) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = requests.get(service.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def test_logs_and_metrics_of_the_real_processes(
    service: Running, settings: Settings, fake_twilio: FakeTwilio, db: Session
) -> None:
    sam = users.create_user(db, "sam@example.org", "Sam Rivers", PASSWORD, "supporter")
    sam.status = "available"
    shifts.create_shift(db, sam.id, utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=3))
    db.commit()
    assert requests.get(service.base + "/metrics").status_code == 403
    answer = text_in(service, settings)
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "e2e-text-1"
    fake_twilio.wait_for(1, timeout=20)

    # Counted by the web process that took the webhook and the worker that sent: any web
    # process (there are two) answers with both.
    wait_until(
        lambda: (
            metrics(service).get(("helpline_send_attempts_total", frozenset({("result", "sent")})))
            == 1
        ),
        10,
    )
    for _ in range(4):
        found = metrics(service)
        key = frozenset({("webhook", "messages")})
        assert found[("helpline_webhook_duration_seconds_count", key)] == 1
        assert found[("helpline_send_attempts_total", frozenset({("result", "sent")}))] == 1

    for name, path in service.stderr.items():
        text = path.read_text()
        assert TEXTER not in text and TEXTER[2:] not in text and WORDS not in text
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert lines and {line["role"] for line in lines} == {name}
    web = [json.loads(line) for line in service.stderr["web"].read_text().splitlines()]
    access = [line for line in web if line["logger"] == "helpline.access"]
    assert any(
        line["request_id"] == "e2e-text-1" and line["path"] == "/twilio/messages" for line in access
    )
    assert any(line["logger"].startswith("gunicorn") for line in web)  # gunicorn's own, as JSON
    worker = [json.loads(line) for line in service.stderr["worker"].read_text().splitlines()]
    in_jobs = [line for line in worker if "job_id" in line]
    assert any(line.get("request_id") == "e2e-text-1" for line in in_jobs)
