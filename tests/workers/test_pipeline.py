"""Text in, conversation routed, texts out: the worker path on real Redis and a real database."""

from __future__ import annotations

from sqlalchemy import select

from helpline.models import Conversation, ConversationEvent, Message, Texter
from tests.support import HELPLINE_NUMBER, Helpline


def only_conversation(helpline: Helpline) -> Conversation:
    return helpline.db.scalars(select(Conversation)).one()


def test_text_is_assigned_to_an_available_supporter_on_shift(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("I need to talk to someone", from_="+15550201111")
    helpline.run_jobs()
    convo = only_conversation(helpline)
    assert convo.status == "active"
    assert convo.supporter_id == sam.id
    kinds = [e.kind for e in helpline.db.scalars(select(ConversationEvent))]
    assert kinds == ["opened", "assigned"]


def test_texter_is_greeted_and_told_who_they_are_connected_with(helpline: Helpline) -> None:
    helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550201112")
    helpline.run_jobs()
    (text,) = helpline.twilio.to("+15550201112")
    assert text["From"] == HELPLINE_NUMBER
    assert "Sam" in text["Body"] and "Rivers" not in text["Body"]
    assert text["StatusCallback"] == helpline.settings.public_url + "/twilio/status"


def test_text_waits_in_queue_with_its_place_when_nobody_is_free(helpline: Helpline) -> None:
    helpline.supporter(status="away")
    helpline.text_in("hello?", from_="+15550201113")
    helpline.text_in("anyone?", from_="+15550201114")
    helpline.run_jobs()
    assert {c.status for c in helpline.db.scalars(select(Conversation))} == {"queued"}
    assert "number 1 in line" in helpline.twilio.to("+15550201113")[0]["Body"]
    assert "number 2 in line" in helpline.twilio.to("+15550201114")[0]["Body"]


def test_queue_drains_when_a_supporter_becomes_available(helpline: Helpline) -> None:
    sam = helpline.supporter(status="away")
    helpline.text_in("hello?", from_="+15550201115")
    helpline.run_jobs()
    answer = helpline.api(
        "PUT", f"/supporters/{sam.id}/status", user=sam, json={"status": "available"}
    )
    assert answer.status_code == 200
    helpline.run_jobs()
    assert only_conversation(helpline).supporter_id == sam.id
    texts = helpline.twilio.to("+15550201115")
    assert len(texts) == 2 and "connected" in texts[1]["Body"]


def test_supporter_off_shift_or_at_limit_is_passed_over(helpline: Helpline) -> None:
    helpline.supporter("Off Shift", on_shift=False)
    helpline.supporter("Full Up", max_conversations=0)
    helpline.text_in("hi", from_="+15550201116")
    helpline.run_jobs()
    convo = only_conversation(helpline)
    assert convo.status == "queued"
    (queued_event,) = [e for e in convo.events if e.kind == "queued"]
    assert queued_event.detail is not None
    # Neither was considered (a pass reads only supporters with room, on shift): counted.
    assert queued_event.detail["passed_over"] == {}
    summary = queued_event.detail["not_considered"]
    assert "1 at their limit" in summary and "1 not on shift" in summary


def test_least_loaded_supporter_is_chosen(helpline: Helpline) -> None:
    busy = helpline.supporter("Busy Bee")
    helpline.text_in("first", from_="+15550201117")
    helpline.run_jobs()
    idle = helpline.supporter("Idle Ivy")
    helpline.text_in("second", from_="+15550201118")
    helpline.run_jobs()
    owners = {c.texter.address: c.supporter_id for c in helpline.db.scalars(select(Conversation))}
    assert owners == {"+15550201117": busy.id, "+15550201118": idle.id}


def test_later_texts_join_the_open_conversation(helpline: Helpline) -> None:
    helpline.supporter()
    for body in ("one", "two", "three"):
        helpline.text_in(body, from_="+15550201119")
    helpline.run_jobs()
    convo = only_conversation(helpline)
    assert [m.body for m in convo.messages if m.direction == "in"] == ["one", "two", "three"]
    assert len(helpline.twilio.to("+15550201119")) == 1  # one greeting, not three


def test_running_a_job_twice_sends_nothing_twice(helpline: Helpline) -> None:
    from workers import jobs

    helpline.supporter()
    helpline.text_in("hi", from_="+15550201120")
    helpline.run_jobs()
    message_id = helpline.db.scalars(select(Message.id).where(Message.direction == "in")).one()
    out_id = helpline.db.scalars(select(Message.id).where(Message.direction == "out")).one()
    jobs.process_inbound(message_id)
    jobs.send_text(out_id)
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550201120")) == 1


def test_stop_opts_out_closes_and_sends_nothing(helpline: Helpline) -> None:
    sam = helpline.supporter()
    helpline.text_in("hi", from_="+15550201121")
    helpline.run_jobs()
    helpline.text_in("STOP", from_="+15550201121")
    helpline.run_jobs()
    convo = only_conversation(helpline)
    assert convo.status == "closed"
    assert helpline.db.scalars(select(Texter)).one().opted_out
    answer = helpline.api(
        "POST",
        f"/conversations/{convo.id}/messages",
        user=sam,
        json={"body": "are you still there?"},
    )
    assert answer.status_code == 409
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550201121")) == 1  # only the greeting before STOP


def test_texts_after_stop_open_nothing_until_start(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("stop", from_="+15550201122")
    helpline.text_in("hello", from_="+15550201122")
    helpline.run_jobs()
    assert helpline.db.scalars(select(Conversation)).all() == []
    helpline.text_in("START", from_="+15550201122")
    helpline.text_in("hello again", from_="+15550201122")
    helpline.run_jobs()
    assert only_conversation(helpline).status == "active"
    assert len(helpline.twilio.to("+15550201122")) == 1


def test_help_is_a_texter_asking_for_help_not_a_keyword(helpline: Helpline) -> None:
    """On a helpline "HELP" is a person reaching out: it opens a conversation."""
    helpline.supporter()
    helpline.text_in("HELP", from_="+15550201123")
    helpline.run_jobs()
    assert only_conversation(helpline).status == "active"


def test_whatsapp_texts_are_answered_on_whatsapp(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("hola", from_="whatsapp:+15550201124", to="whatsapp:+15550100000")
    helpline.run_jobs()
    assert only_conversation(helpline).channel == "whatsapp"
    (text,) = helpline.twilio.to("whatsapp:+15550201124")
    assert text["From"] == "whatsapp:+15550100000"
