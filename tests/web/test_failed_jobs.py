"""Coordinators see RQ's failed jobs (never their arguments) and put them back on their queues."""

from __future__ import annotations

from redis import Redis
from rq.job import Job
from sqlalchemy import select

from helpline.models import Message
from tests.fakes.twilio_api import Failure
from tests.support import Helpline
from tests.web.conftest import post_form, sign_in
from workers import queues

TEXTER = "+15550205001"


def fail_a_send(helpline: Helpline, number: str = TEXTER, body: str = "hi") -> str:
    """A text whose every send attempt meets a 500, until RQ gives up on it: the failed job's
    id (the first attempt is the drain's; the retries are a job of the text's own)."""
    helpline.twilio.fail_next(*[Failure(500)] * (queues.SEND_ATTEMPTS + 1))
    helpline.text_in(body, from_=number)
    helpline.run_jobs(retries=True)
    latest = select(Message.id).where(Message.direction == "out").order_by(Message.id.desc())
    message_id = helpline.db.scalars(latest).first()
    redis = Redis.from_url(helpline.settings.redis_url)
    failed = queues.queue(queues.OUTBOUND, redis).failed_job_registry.get_job_ids()
    (job_id,) = [j for j in failed if j.startswith(f"send-{message_id}-")]
    return job_id


def test_a_coordinator_sees_why_a_job_failed_but_not_its_arguments(helpline: Helpline) -> None:
    helpline.supporter()
    job_id = fail_a_send(helpline, body="my secret words")
    answer = helpline.api("GET", "/jobs/failed", user=helpline.coordinator())
    assert answer.status_code == 200
    (job,) = answer.get_json()["items"]
    assert job["id"] == job_id and job["queue"] == "outbound"
    assert job["function"] == "send_text"
    assert job["exception"] == "TransientSendError" and "500" in job["message"]
    assert job["failed_at"].endswith("+00:00")
    assert set(job) == {"id", "queue", "function", "exception", "message", "failed_at"}
    text = answer.get_data(as_text=True)
    assert TEXTER not in text and "secret" not in text


def test_a_retried_send_goes_out_once(helpline: Helpline) -> None:
    helpline.supporter()
    job_id = fail_a_send(helpline)
    casey = helpline.coordinator()
    answer = helpline.api("POST", f"/jobs/failed/{job_id}/retry", user=casey)
    assert answer.status_code == 200
    assert answer.get_json() == {"id": job_id, "queue": "outbound", "status": "queued"}
    helpline.run_jobs()
    assert len(helpline.twilio.to(TEXTER)) == 1
    assert helpline.api("GET", "/jobs/failed", user=casey).get_json()["items"] == []
    again = helpline.api("POST", f"/jobs/failed/{job_id}/retry", user=casey)
    assert again.status_code == 404


def test_a_retried_job_gets_its_retries_again(helpline: Helpline) -> None:
    helpline.supporter()
    job_id = fail_a_send(helpline)
    helpline.api("POST", f"/jobs/failed/{job_id}/retry", user=helpline.coordinator())
    job = Job.fetch(job_id, connection=Redis.from_url(helpline.settings.redis_url))
    # The retry job's own retries: a send's back-off less the drain's first attempt.
    assert job.retries_left == queues.SEND_ATTEMPTS - 1


def test_retry_all_puts_every_failed_job_back(helpline: Helpline) -> None:
    helpline.supporter(max_conversations=5)
    fail_a_send(helpline, "+15550205002")
    helpline.twilio.fail_next(*[Failure(503)] * (queues.SEND_ATTEMPTS + 1))
    helpline.text_in("hello", from_="+15550205003")
    helpline.run_jobs(retries=True)
    casey = helpline.coordinator()
    assert len(helpline.api("GET", "/jobs/failed", user=casey).get_json()["items"]) == 2
    answer = helpline.api("POST", "/jobs/failed/retry", user=casey)
    assert answer.status_code == 200 and answer.get_json() == {"retried": 2}
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550205002")) == len(helpline.twilio.to("+15550205003")) == 1


def test_failed_jobs_are_paged_latest_first(helpline: Helpline) -> None:
    redis = Redis.from_url(helpline.settings.redis_url)
    for n in range(3):
        queues.queue(queues.ROUTING, redis).enqueue("builtins.int", "x", job_id=f"broken-{n}")
        helpline.run_jobs()
    casey = helpline.coordinator()
    first = helpline.api("GET", "/jobs/failed?limit=2", user=casey).get_json()
    assert [j["id"] for j in first["items"]] == ["broken-2", "broken-1"]
    second = helpline.client.get(
        first["next"], headers={"Authorization": f"Bearer {helpline.token(casey)}"}
    ).get_json()
    assert [j["id"] for j in second["items"]] == ["broken-0"] and second["next"] is None
    bad = helpline.api("GET", "/jobs/failed?after=nonsense", user=casey)
    assert bad.status_code == 400


def test_a_failed_jobs_traceback_is_kept_without_phone_numbers(helpline: Helpline) -> None:
    """Whatever an exception's message says, RQ keeps (in Redis) and we show it masked."""
    redis = Redis.from_url(helpline.settings.redis_url)
    queues.queue(queues.ROUTING, redis).enqueue("builtins.int", "to +15550205004", job_id="leaky")
    helpline.run_jobs()
    result = Job.fetch("leaky", connection=redis).latest_result()
    assert result is not None and result.exc_string is not None
    assert "ValueError" in result.exc_string and "+15550205004" not in result.exc_string
    (job,) = helpline.api("GET", "/jobs/failed", user=helpline.coordinator()).get_json()["items"]
    assert job["exception"] == "ValueError" and "+[number]" in job["message"]


def test_only_coordinators_see_or_retry_failed_jobs(helpline: Helpline) -> None:
    sam = helpline.supporter()
    assert helpline.api("GET", "/jobs/failed", user=sam).status_code == 403
    assert helpline.api("POST", "/jobs/failed/retry", user=sam).status_code == 403
    assert helpline.api("POST", "/jobs/failed/send-1/retry", user=sam).status_code == 403
    assert helpline.api("GET", "/jobs/failed").status_code == 401
    casey = helpline.coordinator()
    assert helpline.api("POST", "/jobs/failed/nope/retry", user=casey).status_code == 404


def test_the_console_lists_failed_jobs_and_retries_one(helpline: Helpline) -> None:
    helpline.supporter()
    job_id = fail_a_send(helpline, body="my secret words")
    sign_in(helpline.client, helpline.coordinator())
    page = helpline.client.get("/console/jobs").get_data(as_text=True)
    assert f'data-job="{job_id}"' in page and "TransientSendError" in page
    assert TEXTER not in page and "secret" not in page
    answer = post_form(helpline.client, f"/console/jobs/{job_id}/retry", {}, "/console/jobs")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/jobs")
    helpline.run_jobs()
    assert len(helpline.twilio.to(TEXTER)) == 1
    page = helpline.client.get("/console/jobs").get_data(as_text=True)
    assert "data-job=" not in page and "back on the outbound queue" in page


def test_retrying_a_job_that_is_gone_says_so(helpline: Helpline) -> None:
    sign_in(helpline.client, helpline.coordinator())
    answer = post_form(helpline.client, "/console/jobs/send-404/retry", {}, "/console/jobs")
    assert answer.status_code == 302
    page = helpline.client.get("/console/jobs").get_data(as_text=True)
    assert "No failed job send-404" in page and "No failed jobs." in page


def test_the_console_retries_every_failed_job(helpline: Helpline) -> None:
    helpline.supporter(max_conversations=5)
    fail_a_send(helpline, "+15550205004")
    fail_a_send(helpline, "+15550205005")
    sign_in(helpline.client, helpline.coordinator())
    assert helpline.client.get("/console/jobs").get_data(as_text=True).count("data-job=") == 2
    assert post_form(helpline.client, "/console/jobs/retry", {}, "/console/jobs").status_code == 302
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550205004")) == len(helpline.twilio.to("+15550205005")) == 1
    assert "2 failed jobs back on their queues" in helpline.client.get("/console/jobs").get_data(
        as_text=True
    )
