"""Outbound texts: retried on passing failures, never retried on refusals, never sent twice."""

from __future__ import annotations

from sqlalchemy import select

from helpline.models import Message
from tests.fakes.twilio_api import Failure
from tests.support import Helpline


def outbound(helpline: Helpline) -> list[Message]:
    return list(helpline.db.scalars(select(Message).where(Message.direction == "out")))


def test_429_and_500_are_retried_until_the_text_goes_out_once(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.twilio.fail_next(Failure(429, 20429), Failure(500), Failure(503))
    helpline.text_in("hi", from_="+15550203001")
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203001")) == 1
    assert helpline.twilio.requests == 4
    (text,) = outbound(helpline)
    assert text.delivery_status == "queued" and text.sid is not None


def test_network_errors_are_retried(helpline: Helpline) -> None:
    """A connection Twilio never answers is a passing failure: the text goes out later."""
    from dataclasses import replace

    from workers import runtime

    runtime.configure(replace(helpline.settings, twilio_api_base_url="http://127.0.0.1:9"))
    helpline.supporter()
    helpline.text_in("hi", from_="+15550203002")
    helpline.run_jobs()
    (text,) = outbound(helpline)
    assert text.delivery_status == "pending" and text.send_claimed_at is None
    runtime.configure(helpline.settings)
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203002")) == 1


def test_permanent_refusal_is_recorded_and_not_retried(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.twilio.refused_numbers["+15550203003"] = 21610
    helpline.text_in("hi", from_="+15550203003")
    helpline.run_jobs(retries=True)
    (text,) = outbound(helpline)
    assert text.delivery_status == "failed" and text.error_code == 21610
    assert helpline.twilio.requests == 1


def test_refusal_is_shown_to_the_supporter_in_the_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter()
    helpline.twilio.refused_numbers["+15550203004"] = 21211
    helpline.text_in("hi", from_="+15550203004")
    helpline.run_jobs()
    (text,) = outbound(helpline)
    answer = helpline.api("GET", f"/conversations/{text.conversation_id}", user=sam)
    out = [m for m in answer.get_json()["messages"] if m["direction"] == "out"]
    assert out[0]["delivery_status"] == "failed" and out[0]["error_code"] == 21211


def test_without_credentials_texts_are_recorded_not_sent(helpline: Helpline) -> None:
    from dataclasses import replace

    from workers import runtime

    runtime.configure(replace(helpline.settings, twilio_account_sid=None, twilio_auth_token=None))
    helpline.supporter()
    helpline.text_in("hi", from_="+15550203005")
    helpline.run_jobs()
    (text,) = outbound(helpline)
    assert text.delivery_status == "recorded"
    assert helpline.twilio.requests == 0
