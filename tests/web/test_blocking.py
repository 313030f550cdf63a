"""Coordinators block an abusive texter: texts are kept, open nothing and get no answer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from helpline.models import AuditEntry, Conversation, Message, Texter, utcnow
from helpline.services import audit
from tests.support import Helpline

NUMBER = "+15550501111"


def test_blocking_from_a_conversation_closes_it_silently_and_keeps_later_texts(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter(max_conversations=1)
    casey = helpline.coordinator()
    helpline.text_in("abuse", from_=NUMBER)
    helpline.text_in("I need someone", from_="+15550502222")
    helpline.run_jobs()
    convo = helpline.db.scalars(
        select(Conversation).where(Conversation.supporter_id == sam.id)
    ).one()
    texts_before = len(helpline.twilio.to(NUMBER))
    answer = helpline.api(
        "POST", f"/conversations/{convo.id}/block", user=casey, json={"reason": "abusive texts"}
    )
    assert answer.status_code == 200 and answer.get_json()["reason"] == "abusive texts"
    helpline.run_jobs()
    helpline.text_in("more abuse", from_=NUMBER)
    helpline.run_jobs()
    assert len(helpline.twilio.to(NUMBER)) == texts_before  # nothing said to them, then or since
    conversations = {c.texter.address: c for c in helpline.db.scalars(select(Conversation))}
    assert conversations[NUMBER].status == "closed"
    assert conversations["+15550502222"].supporter_id == sam.id  # the freed place went on
    assert "more abuse" in [m.body for m in helpline.db.scalars(select(Message))]
    actions = [e.action for e in helpline.db.scalars(select(AuditEntry))]
    assert audit.BLOCKED in actions


def test_a_number_blocked_in_advance_is_listed_and_can_be_unblocked(helpline: Helpline) -> None:
    helpline.supporter()
    casey = helpline.coordinator()
    answer = helpline.api(
        "POST", "/blocked", user=casey, json={"number": NUMBER, "reason": "known abuser"}
    )
    assert answer.status_code == 201
    texter_id = answer.get_json()["id"]
    helpline.text_in("hello", from_=NUMBER)
    helpline.run_jobs()
    assert helpline.db.scalars(select(Conversation)).all() == []
    listed = helpline.api("GET", "/blocked", user=casey).get_json()["items"]
    assert [(b["id"], b["address"]) for b in listed] == [(texter_id, NUMBER)]
    assert helpline.api("DELETE", f"/blocked/{texter_id}", user=casey).status_code == 204
    assert helpline.api("DELETE", f"/blocked/{texter_id}", user=casey).status_code == 404
    helpline.text_in("hello again", from_=NUMBER)
    helpline.run_jobs()
    assert helpline.db.scalars(select(Conversation)).one().status == "active"


def test_a_block_with_an_end_lapses_by_itself(helpline: Helpline) -> None:
    helpline.supporter()
    casey = helpline.coordinator()
    until = (utcnow() + timedelta(hours=1)).isoformat()
    body = {"number": NUMBER, "reason": "cool off", "until": until}
    assert helpline.api("POST", "/blocked", user=casey, json=body).status_code == 201
    helpline.look_again()
    helpline.db.execute(update(Texter).values(blocked_until=utcnow() - timedelta(minutes=1)))
    helpline.db.commit()
    helpline.text_in("hello", from_=NUMBER)
    helpline.run_jobs()
    assert helpline.db.scalars(select(Conversation)).one().status == "active"
    assert helpline.api("GET", "/blocked", user=casey).get_json()["items"] == []


def test_blocking_is_for_coordinators_and_checks_its_input(helpline: Helpline) -> None:
    sam = helpline.supporter()
    casey = helpline.coordinator()
    body = {"number": NUMBER, "reason": "x"}
    assert helpline.api("POST", "/blocked", user=sam, json=body).status_code == 403
    assert helpline.api("GET", "/blocked", user=sam).status_code == 403
    for bad in (
        {"number": "not a number!", "reason": "x"},
        {"number": NUMBER, "reason": ""},
        {"number": NUMBER, "reason": "x", "until": "2001-01-01T00:00:00+00:00"},
        {"number": NUMBER, "reason": "x", "until": "tomorrow"},
    ):
        answer = helpline.api("POST", "/blocked", user=casey, json=bad)
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]
