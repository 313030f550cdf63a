"""Log lines: JSON, each with its process role and request or job id, never a texter's number or
words, even on the paths that fail and retry."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from helpline import logs
from helpline.models import Conversation
from helpline.services import intake
from tests.conftest import PUBLIC_URL
from tests.fakes.twilio_api import Failure
from tests.support import HELPLINE_NUMBER, Helpline, message_sid, sign
from workers import runtime

NUMBER = "+15550207001"
BODY = "nobody knows about the bridge"
REPLY = "I am glad you wrote tonight"


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Every line as the processes write it (JSON), at DEBUG, alongside caplog's raw records."""
    stream = io.StringIO()
    handler = logs.configure("test", "json", stream=stream, level=logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def raw_text(caplog: pytest.LogCaptureFixture) -> str:
    plain = logging.Formatter()
    return "\n".join(
        record.getMessage() + (plain.formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
    )


def test_a_texters_number_and_words_never_reach_a_log_line(
    helpline: Helpline, caplog: pytest.LogCaptureFixture, log_lines: io.StringIO
) -> None:
    """An inbound text and a reply, through a 429, a send whose answer never came (reconciled
    by listing Twilio's messages to the texter) and a delivery callback."""
    runtime.configure(replace(helpline.settings, twilio_timeout_s=0.3))
    sam = helpline.supporter()
    helpline.twilio.fail_next(Failure(429, 20429))
    assert helpline.text_in(BODY, from_=NUMBER).status_code == 200
    helpline.run_jobs(retries=True)
    convo = helpline.db.scalars(select(Conversation)).one()
    helpline.twilio.fail_next(Failure(201, delay_s=1.0))
    reply = helpline.api(
        "POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": REPLY}
    )
    assert reply.status_code == 202
    helpline.run_jobs(retries=True)
    sent = helpline.twilio.to(NUMBER)
    assert [m["Body"] for m in sent][-1] == REPLY and len(sent) == 2
    helpline.status_callback(sent[-1]["sid"], "delivered")

    written, raw = log_lines.getvalue(), raw_text(caplog)
    assert "reconciling" in raw and "429" in raw  # the failing paths did log
    for secret in (NUMBER, NUMBER[1:], NUMBER[2:], BODY, REPLY):
        assert secret not in written and secret not in raw


def test_every_line_is_json_with_its_role_and_request_or_job_id(
    helpline: Helpline, log_lines: io.StringIO
) -> None:
    helpline.supporter()
    helpline.twilio.fail_next(Failure(503))
    form = {"MessageSid": message_sid(), "From": "+15550207002", "To": HELPLINE_NUMBER}
    form.update(Body="hello", NumMedia="0", AccountSid=helpline.settings.twilio_account_sid or "")
    signature = sign(helpline.settings.webhook_auth_token, PUBLIC_URL + "/twilio/messages", form)
    answer = helpline.client.post(
        "/twilio/messages",
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature, "X-Request-ID": "trace-abc-123"},
    )
    assert answer.headers["X-Request-ID"] == "trace-abc-123"
    helpline.run_jobs(retries=True)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert lines and all({"ts", "level", "role", "logger", "msg"} <= set(line) for line in lines)
    ours = [line for line in lines if line["logger"].startswith(("helpline", "workers"))]
    assert ours and all("request_id" in line or "job_id" in line for line in ours)
    access = [line for line in lines if line["logger"] == "helpline.access"]
    assert access[0]["role"] == "web" and access[0]["request_id"] == "trace-abc-123"
    assert access[0]["path"] == "/twilio/messages" and access[0]["status"] == 200
    in_jobs = [line for line in lines if "job_id" in line]
    assert {line["role"] for line in in_jobs} == {"worker"}
    assert {line["job_id"].split("-")[0] for line in in_jobs} >= {"drain", "send"}
    # The jobs the webhook caused carry its request id: one text can be followed throughout.
    assert all(line.get("request_id") == "trace-abc-123" for line in in_jobs)


def test_a_webhook_whose_store_failed_is_logged_and_timed_as_one_request(
    helpline: Helpline, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails in front of Flask (webhooks.InboundTexts); the view answers the 503 under
    the same request id, and the access line counts the time the store took."""

    def slow_failure(db: object, received: list[object], *_: object) -> list[int]:
        logging.getLogger("helpline.services.intake").warning("store failing")
        time.sleep(0.2)
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(intake, "store_all", slow_failure)
    answer = helpline.text_in("are you there")
    assert answer.status_code == 503
    request_id = answer.headers["X-Request-ID"]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    failing = [line for line in lines if line["msg"] == "store failing"]
    access = [line for line in lines if line["logger"] == "helpline.access"]
    assert [line["request_id"] for line in failing + access] == [request_id, request_id]
    assert access[0]["status"] == 503 and access[0]["duration_ms"] >= 200


def test_a_request_id_that_is_not_a_plain_token_is_replaced(helpline: Helpline) -> None:
    answer = helpline.client.get("/api/v1/health", headers={"X-Request-ID": "<b> and more"})
    given = answer.headers["X-Request-ID"]
    assert given != "<b> and more" and len(given) == 32
    fresh = helpline.client.get("/api/v1/health").headers["X-Request-ID"]
    assert fresh != given


def test_phone_shaped_text_is_masked_as_a_last_net() -> None:
    assert logs.mask("to +15550207001 and whatsapp:+447700900123, To=%2B15550207001") == (
        "to +[number] and whatsapp:+[number], To=+[number]"
    )
    assert logs.mask("at 2024-05-01T10:00:00+00:00, job tick-345678901") == (
        "at 2024-05-01T10:00:00+00:00, job tick-345678901"
    )


class _SlowStream(io.StringIO):
    """A stream whose first write waits until the test lets it go; it keeps every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.writing = threading.Event()
        self.go_on = threading.Event()

    def write(self, text: str) -> int:
        if not self.writes:
            self.writing.set()
            assert self.go_on.wait(10)
        self.writes.append(text)
        return super().write(text)


def _line_handler(stream: io.StringIO) -> tuple[logging.Logger, logs.LineHandler]:
    handler = logs.LineHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.line_handler")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    return logger, handler


def test_a_thread_logs_without_waiting_for_a_write_and_its_line_is_written_after() -> None:
    """While one thread's write is stuck, the others' lines wait in order and go out in
    writes of at most PIPE_BUF bytes, each ending at a line's end; a line longer than that
    goes alone; `flush` waits for the stuck writer."""
    stream = _SlowStream()
    logger, handler = _line_handler(stream)
    first = threading.Thread(target=logger.info, args=("first",))
    first.start()
    assert stream.writing.wait(10)
    long_line = "x" * (logs.PIPE_BUF + 10)
    expected = ["first"] + [f"line {n:04d} " + "é" * 40 for n in range(150)] + [long_line]
    for line in expected[1:]:
        logger.info(line)  # returns at once: the stuck thread writes it
    assert stream.writes == []
    stream.go_on.set()
    handler.flush()
    first.join(10)
    assert stream.getvalue().splitlines() == expected
    assert len(stream.writes) > 2
    for write in stream.writes:
        assert write.endswith("\n")
        assert len(write.encode()) <= logs.PIPE_BUF or write.count("\n") == 1


def test_lines_logged_by_many_threads_are_each_written_once_in_each_threads_order() -> None:
    stream = io.StringIO()
    logger, handler = _line_handler(stream)

    def log_lines(thread: int) -> None:
        for n in range(500):
            logger.info("%d %d", thread, n)

    threads = [threading.Thread(target=log_lines, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    handler.flush()
    written = [tuple(map(int, line.split())) for line in stream.getvalue().splitlines()]
    assert sorted(written) == [(t, n) for t in range(8) for n in range(500)]
    for t in range(8):
        assert [n for thread, n in written if thread == t] == list(range(500))


def test_a_process_forked_while_its_parent_writes_logs_its_own_lines(tmp_path: Path) -> None:
    """gunicorn forks its workers from a process that logs: a child must not inherit a
    writer that is not there (its lines would wait for ever) nor the parent's waiting lines."""
    out = tmp_path / "child.log"
    with out.open("w") as stream:
        logger, handler = _line_handler(stream)  # type: ignore[arg-type]
        with handler._writer:  # the parent's writer is at work as it forks
            logger.info("the parent's, waiting")
            child = os.fork()
            if child == 0:  # the child: its line must reach the file before it exits
                try:
                    logger.info("the child's")
                finally:
                    os._exit(0)
        os.waitpid(child, 0)
        handler.flush()
    assert out.read_text().splitlines() == ["the child's", "the parent's, waiting"]
