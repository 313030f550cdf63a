"""Redis dies mid-burst and comes back empty: webhooks keep answering, no text is lost.

The machine's shared Redis is never touched: this test runs web and workers on a redis-server
of its own, on a free loopback port, started without persistence so a crash loses everything.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from helpline.app import create_app
from helpline.models import Message
from helpline.services import sweeps
from tests.e2e.processes import RedisServer, Workers, wait_until
from tests.e2e.traffic import Burst, count_inbound, inbound_form, outbound_texts, texts_sent_twice
from tests.support import Helpline
from workers.__main__ import TICK_S

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

TEXTERS = 60
PER_SECOND = 10
# A text stranded by the loss is re-queued once it is STRANDED_AFTER_S old and Redis is back,
# at the next tick; processing it and a busy CI machine get the slack.
SLACK_S = 10
DEADLINE = timedelta(seconds=TICK_S + SLACK_S)


def test_redis_lost_mid_burst_and_back_empty_loses_no_text(
    helpline: Helpline, private_redis: RedisServer, workers: Workers
) -> None:
    """60 texts over 6 s; Redis is killed after the 20th and started again, empty, after the
    40th. Every webhook answers 200 at once, and every text is processed by the sweep's
    deadline: STRANDED_AFTER_S after it arrived or the moment Redis was back, whichever is
    later, plus a tick. Each texter is texted exactly once."""
    for i in range(5):
        helpline.supporter(f"Supporter {i}", max_conversations=4)
    settings = replace(helpline.settings, redis_url=private_redis.url)
    app = create_app(settings, TESTING=True)
    workers.env["REDIS_URL"] = private_redis.url
    workers.start(2)
    workers.wait_ready(private_redis.url)
    texters = [f"+1555050{i:04d}" for i in range(TEXTERS)]
    forms = [inbound_form(settings, n, "hello?") for n in texters]

    burst = Burst(app, forms, per_second=PER_SECOND).start()
    wait_until(lambda: burst.answered >= 20, 30, "webhooks too slow")
    private_redis.crash()
    down_at = time.time()
    wait_until(lambda: burst.answered >= 40, 30, "webhooks stopped answering without Redis")
    private_redis.start()
    back_at = datetime.fromtimestamp(time.time(), UTC)
    answers = burst.join()

    assert [a.status for a in answers] == [200] * TEXTERS
    assert max(a.seconds for a in answers) < 2
    assert sum(down_at < a.at < back_at.timestamp() for a in answers) >= 15
    wait_until(
        lambda: count_inbound(helpline.db, processed=True) == TEXTERS,
        sweeps.STRANDED_AFTER_S + DEADLINE.total_seconds() + 10,
        "texts answered 200 not processed",
    )
    stranded_after = timedelta(seconds=sweeps.STRANDED_AFTER_S)
    late = [
        (m.created_at, m.processed_at)
        for m in helpline.db.scalars(select(Message).where(Message.direction == "in"))
        if m.processed_at is None
        or m.processed_at > max(m.created_at + stranded_after, back_at) + DEADLINE
    ]
    assert late == []

    wait_until(lambda: len(helpline.twilio.sent) >= TEXTERS, 30, "texts not sent")
    time.sleep(1)  # nothing more may arrive
    assert texts_sent_twice(helpline.twilio) == {}
    assert sorted(t["To"] for t in helpline.twilio.sent) == sorted(texters)
    assert all(t.sid for t in outbound_texts(helpline.db))
