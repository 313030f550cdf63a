"""Twilio answers 429, 500 and 503, or not at all, for a while: every text goes out once."""

from __future__ import annotations

import pytest

from tests.e2e.processes import Workers, wait_until
from tests.e2e.traffic import Burst, count_inbound, inbound_form, outbound_texts, texts_sent_twice
from tests.fakes.twilio_api import Failure
from tests.support import Helpline

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

TEXTERS = 30
OUTAGE_S = 10
CLIENT_TIMEOUT_S = 1
# In turn while the outage lasts: rate-limited, failing, and two kinds of silence: Twilio
# created the text but its answer never came, or it failed and its answer never came.
OUTAGE = (
    Failure(429, 20429),
    Failure(500),
    Failure(503),
    Failure(201, delay_s=CLIENT_TIMEOUT_S + 1),
    Failure(500, delay_s=CLIENT_TIMEOUT_S + 1),
)


def test_texts_sent_while_twilio_fails_go_out_exactly_once(
    helpline: Helpline, workers: Workers
) -> None:
    """30 texters write while every create fails for 10 s in the ways above: each is texted
    exactly once in the end, and every text's row holds the sid Twilio gave it."""
    for i in range(4):
        helpline.supporter(f"Supporter {i}", max_conversations=10)
    workers.env["TWILIO_TIMEOUT_S"] = str(CLIENT_TIMEOUT_S)
    workers.start(2)
    workers.wait_ready(helpline.settings.redis_url)
    texters = [f"+1555060{i:04d}" for i in range(TEXTERS)]

    helpline.twilio.fail_for(OUTAGE_S, *OUTAGE)
    burst = Burst(helpline.app, [inbound_form(helpline.settings, n, "hi") for n in texters])
    assert {a.status for a in burst.start().join()} == {200}
    wait_until(lambda: count_inbound(helpline.db, processed=True) == TEXTERS, 30, "unprocessed")
    wait_until(
        lambda: (
            len(outbound_texts(helpline.db)) == TEXTERS
            and all(t.sid for t in outbound_texts(helpline.db))
        ),
        90,
        "texts not sent",
    )

    assert helpline.twilio.requests > TEXTERS + len(OUTAGE)  # failures were met and retried
    assert texts_sent_twice(helpline.twilio) == {}
    assert sorted(t["To"] for t in helpline.twilio.sent) == sorted(texters)
    assert {t.sid for t in outbound_texts(helpline.db)} == {t["sid"] for t in helpline.twilio.sent}
