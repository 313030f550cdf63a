"""GET /metrics: Prometheus text behind a bearer token, with the whole deployment's numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from helpline.app import create_app
from helpline.models import Conversation, utcnow
from tests.fakes.twilio_api import Failure
from tests.support import Helpline
from tests.web.test_failed_jobs import fail_a_send

TOKEN = "metrics-token-0123456789abcdef"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scraper(helpline: Helpline, **changes: object) -> FlaskClient:
    """Another web process of the same deployment, with METRICS_TOKEN set."""
    settings = replace(helpline.settings, metrics_token=TOKEN, **changes)  # type: ignore[arg-type]
    return create_app(settings, TESTING=True).test_client()


def scrape(client: FlaskClient) -> Samples:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_until_a_token_is_set(helpline: Helpline) -> None:
    assert helpline.client.get("/metrics").status_code == 404
    client = scraper(helpline)
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 403
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 403


def test_queue_depth_and_longest_wait_by_priority(helpline: Helpline) -> None:
    for body in ("hello", "can we talk", "i want to end my life"):
        helpline.text_in(body)
    helpline.run_jobs()  # nobody is on shift: all three wait
    helpline.db.execute(
        update(Conversation)
        .where(Conversation.priority == "normal")
        .values(waiting_since=utcnow() - timedelta(minutes=2))
    )
    helpline.db.commit()
    samples = scrape(scraper(helpline))
    assert value(samples, "helpline_queued_conversations", priority="normal") == 2
    assert value(samples, "helpline_queued_conversations", priority="urgent") == 1
    assert 119 <= value(samples, "helpline_longest_wait_seconds", priority="normal") < 180
    assert value(samples, "helpline_longest_wait_seconds", priority="urgent") < 60
    assert value(samples, "helpline_backend_up", backend="database") == 1


def test_webhook_latency_and_answers_are_counted_across_processes(helpline: Helpline) -> None:
    """Webhooks answered by one web process show in another's scrape: the counts are shared."""
    helpline.text_in("hello")
    helpline.text_in("hello again")
    helpline.post_signed("/twilio/messages", {"From": "+15550206001"}, signature="forged")
    samples = scrape(scraper(helpline))
    count = value(samples, "helpline_webhook_duration_seconds_count", webhook="messages")
    assert count == 3
    assert (
        value(samples, "helpline_webhook_duration_seconds_bucket", webhook="messages", le="+Inf")
        == 3
    )
    assert 0 < value(samples, "helpline_webhook_duration_seconds_sum", webhook="messages") < 30
    assert value(samples, "helpline_webhook_requests_total", webhook="messages", code="200") == 2
    assert value(samples, "helpline_webhook_requests_total", webhook="messages", code="403") == 1
    assert value(samples, "helpline_inbound_texts_waiting") == 2  # no worker has run
    helpline.run_jobs()
    assert value(scrape(scraper(helpline)), "helpline_inbound_texts_waiting") == 0


def test_texts_handed_to_the_send_drain_are_counted_until_taken(helpline: Helpline) -> None:
    sam = helpline.supporter()
    helpline.text_in("hello", from_="+15550206004")
    helpline.run_jobs()
    (convo_id,) = helpline.db.scalars(select(Conversation.id))
    for body in ("one", "two"):
        helpline.api("POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": body})
    assert value(scrape(scraper(helpline)), "helpline_outbound_texts_waiting") == 2
    helpline.run_jobs()
    assert value(scrape(scraper(helpline)), "helpline_outbound_texts_waiting") == 0


def test_sends_retries_failures_and_delivery_statuses_are_counted(helpline: Helpline) -> None:
    helpline.supporter(max_conversations=5)
    helpline.twilio.fail_next(Failure(429, 20429))
    helpline.text_in("hello", from_="+15550206002")
    helpline.run_jobs(retries=True)
    fail_a_send(helpline, "+15550206003")
    sid = helpline.twilio.to("+15550206002")[0]["sid"]
    assert helpline.status_callback(sid, "delivered").status_code == 204
    samples = scrape(scraper(helpline))
    assert value(samples, "helpline_send_attempts_total", result="sent") == 1
    assert value(samples, "helpline_send_attempts_total", result="retry") == 1 + 9
    # Each text's first attempt is made by the job that made it, not by a send job: RQ
    # retried only the second text's send job, its back-off less that first attempt.
    assert value(samples, "helpline_job_retries_total", job="send_text") == 0 + 7
    assert value(samples, "helpline_job_failures_total", job="send_text") == 1
    assert value(samples, "helpline_rq_jobs", queue="outbound", state="failed") == 1
    assert value(samples, "helpline_status_callbacks_total", status="delivered") == 1


def test_a_scrape_still_answers_when_redis_does_not(helpline: Helpline) -> None:
    helpline.text_in("hello")
    helpline.run_jobs()
    samples = scrape(scraper(helpline, redis_url="redis://127.0.0.1:9/0"))
    assert value(samples, "helpline_backend_up", backend="redis") == 0
    assert value(samples, "helpline_backend_up", backend="database") == 1
    assert value(samples, "helpline_queued_conversations", priority="normal") == 1


def test_metrics_never_show_a_texter(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("my secret words", from_="+15550206004")
    helpline.run_jobs()
    answer = scraper(helpline).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "15550206004" not in text and "secret" not in text
