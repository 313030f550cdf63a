"""The Procfile's web and worker as an operator runs them: JSON log lines with ids and no
texter in them, and one /metrics that counts what every process did."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
from tests.e2e.test_procfile import ROOT, free_port, procfile, wait_until
from tests.fakes.twilio_api import FakeTwilio
from tests.support import HELPLINE_NUMBER, PASSWORD, message_sid, sign

pytestmark = pytest.mark.slow
TOKEN = "e2e-metrics-token-0123456789"
TEXTER = "+15550208123"
WORDS = "the bridge at night again"


@dataclass
class Service:
    base: str
    stderr: dict[str, Path]


@pytest.fixture
def service(settings: Settings, fake_twilio: FakeTwilio, tmp_path: Path) -> Iterator[Service]:
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
        "WEB_CONCURRENCY": "2",
        "METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
    }
    lines = procfile()
    subprocess.run(lines["release"], shell=True, env=env, cwd=ROOT, check=True, capture_output=True)
    stderr = {name: tmp_path / f"{name}.log" for name in ("web", "worker")}
    files = {name: path.open("w") for name, path in stderr.items()}
    processes = [
        subprocess.Popen(
            lines[name],
            shell=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=files[name],
        )
        for name in ("web", "worker")
    ]
    try:
        wait_until(lambda: requests.get(base + "/api/v1/health").status_code == 200, 30)
        yield Service(base, stderr)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        for file in files.values():
            file.close()


def text_in(service: Service, settings: Settings) -> requests.Response:
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


def metrics(service: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = requests.get(service.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def test_logs_and_metrics_of_the_real_processes(
    service: Service, settings: Settings, fake_twilio: FakeTwilio, db: Session
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
