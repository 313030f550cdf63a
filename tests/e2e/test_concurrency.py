"""Many workers at once on PostgreSQL: nobody over their limit, nobody held twice, order kept."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from helpline.models import Conversation, Message
from tests.e2e.processes import Workers
from tests.support import Helpline

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def four_workers(workers: Workers) -> Workers:
    workers.start(4)
    return workers


def wait_for_processing(helpline: Helpline, expected: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        helpline.look_again()
        done = helpline.db.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "in", Message.processed_at.is_not(None))
        )
        if done == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"only {done} of {expected} texts processed in time")


def counts(helpline: Helpline) -> dict[str, int]:
    helpline.look_again()
    rows = helpline.db.execute(
        select(Conversation.status, func.count()).group_by(Conversation.status)
    )
    return dict(rows.all())  # type: ignore[arg-type]


def assert_no_violation(helpline: Helpline, limit: int) -> None:
    helpline.look_again()
    per_supporter = helpline.db.execute(
        select(Conversation.supporter_id, func.count())
        .where(Conversation.status == "active")
        .group_by(Conversation.supporter_id)
    ).all()
    assert all(count <= limit for _, count in per_supporter)
    open_per_texter = helpline.db.execute(
        select(Conversation.texter_id, func.count())
        .where(Conversation.status.in_(("queued", "active")))
        .group_by(Conversation.texter_id)
    ).all()
    assert all(count == 1 for _, count in open_per_texter)


def test_200_texters_10_supporters_4_workers(helpline: Helpline, four_workers: Workers) -> None:
    """Exactly 30 active and 170 queued, no supporter over 3; then the queue drains in order."""
    casey = helpline.coordinator()
    assert (
        helpline.api("PATCH", "/settings", user=casey, json={"urgent_weight": 1}).status_code == 200
    )
    for i in range(10):
        helpline.supporter(f"Supporter {i}", skills=["crisis"], max_conversations=3)
    numbers = [f"+1555030{i:04d}" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda n: helpline.app.test_client().post(
                    "/twilio/messages", **_signed(helpline, n, "hello")
                ),
                numbers,
            )
        )
    assert {a.status_code for a in answers} == {200}
    wait_for_processing(helpline, 200)
    assert counts(helpline) == {"active": 30, "queued": 170}
    assert_no_violation(helpline, 3)
    helpline.twilio.wait_for(200, timeout=60)
    # One text each, connected or place in line, and never two.
    assert sorted(t["To"] for t in helpline.twilio.sent) == sorted(numbers)

    # Five waiting texters write again, at risk; then every supporter's conversations close.
    # (Waiting ones: which 30 of 200 texts sent at once were served first follows the order
    # their pushes reached Redis, not the order they were sent.)
    helpline.look_again()
    waiting = helpline.db.scalars(
        select(Conversation).where(Conversation.status == "queued").order_by(Conversation.id)
    )
    urgent_numbers = [c.texter.address for c in waiting][-5:]
    for number in urgent_numbers:
        helpline.client.post("/twilio/messages", **_signed(helpline, number, "i want to die"))
    wait_for_processing(helpline, 205)
    helpline.look_again()
    queued_before = {
        c.id: c
        for c in helpline.db.scalars(select(Conversation).where(Conversation.status == "queued"))
    }
    for convo in helpline.db.scalars(select(Conversation).where(Conversation.status == "active")):
        assert (
            helpline.api("POST", f"/conversations/{convo.id}/close", user=casey).status_code == 200
        )
    _wait_until(lambda: counts(helpline).get("active") == 30)
    assert_no_violation(helpline, 3)
    helpline.look_again()
    served = [
        c for c in helpline.db.scalars(select(Conversation).where(Conversation.status == "active"))
    ]
    urgent_served = {c.texter.address for c in served if c.priority == "urgent"}
    assert urgent_served == set(urgent_numbers)
    normal_waiting = sorted(
        (c for c in queued_before.values() if c.priority == "normal"),
        key=lambda c: (c.waiting_since, c.id),
    )
    assert {c.id for c in served if c.priority == "normal"} == {c.id for c in normal_waiting[:25]}


def test_ten_texts_in_one_second_make_one_conversation_in_order(
    helpline: Helpline, four_workers: Workers
) -> None:
    """Four workers race for one texter's burst: one conversation holding every text, one hello."""
    helpline.supporter()
    number = "+15550309999"
    with ThreadPoolExecutor(10) as pool:
        answers = list(
            pool.map(
                lambda i: helpline.app.test_client().post(
                    "/twilio/messages", **_signed(helpline, number, f"text {i}")
                ),
                range(10),
            )
        )
    assert {a.status_code for a in answers} == {200}
    wait_for_processing(helpline, 10)
    (convo,) = helpline.db.scalars(select(Conversation)).all()
    inbound = [m for m in convo.messages if m.direction == "in"]
    assert len(inbound) == 10
    helpline.twilio.wait_for(1, timeout=30)
    assert len(helpline.twilio.to(number)) == 1  # one greeting, however many workers raced


def _signed(helpline: Helpline, number: str, body: str) -> dict[str, object]:
    from urllib.parse import urlencode

    from tests.support import HELPLINE_NUMBER, message_sid, sign

    form = {
        "MessageSid": message_sid(),
        "AccountSid": helpline.settings.twilio_account_sid or "",
        "From": number,
        "To": HELPLINE_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    url = helpline.settings.public_url + "/twilio/messages"
    return {
        "data": urlencode(form),
        "content_type": "application/x-www-form-urlencoded",
        "headers": {"X-Twilio-Signature": sign(helpline.settings.webhook_auth_token, url, form)},
    }


def _wait_until(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
