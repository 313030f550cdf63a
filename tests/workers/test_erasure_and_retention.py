"""A texter can have everything erased by texting DELETE twice; closed conversations are
purged after the retention period; the audit log says so each time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from helpline.models import AuditEntry, Conversation, ConversationEvent, Message, Texter, utcnow
from helpline.services import audit, retention
from tests.support import Helpline
from workers import jobs

NUMBER = "+15550409876"


def write(helpline: Helpline, *statements: object) -> None:
    helpline.look_again()
    for statement in statements:
        helpline.db.execute(statement)  # type: ignore[call-overload]
    helpline.db.commit()


def count(helpline: Helpline, model: type) -> int:
    helpline.look_again()
    return int(helpline.db.scalar(select(func.count()).select_from(model)) or 0)


def test_delete_asks_first_and_changes_nothing(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("I want to talk", from_=NUMBER)
    helpline.run_jobs()
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.run_jobs()
    assert "text DELETE again" in helpline.twilio.to(NUMBER)[-1]["Body"]
    convo = helpline.db.scalars(select(Conversation)).one()
    assert convo.status == "active"
    assert count(helpline, Texter) == 1


def test_a_second_delete_erases_the_texter_and_says_goodbye(helpline: Helpline) -> None:
    sam = helpline.supporter()
    helpline.text_in("I want to talk", from_=NUMBER)
    helpline.run_jobs()
    answer = helpline.api("POST", "/conversations/1/messages", user=sam, json={"body": "Hi"})
    assert answer.status_code == 202
    helpline.run_jobs()
    helpline.text_in("DELETE", from_=NUMBER)
    retried = helpline.text_in("delete", from_=NUMBER)
    helpline.run_jobs()
    assert "has been erased" in helpline.twilio.to(NUMBER)[-1]["Body"]
    assert count(helpline, Texter) == 0
    assert count(helpline, Conversation) == 0
    assert count(helpline, ConversationEvent) == 0
    left = list(helpline.db.scalars(select(Message)))
    # Inbound tombstones keep only their sid; the goodbye is the one text out.
    assert {(m.direction, m.body) for m in left} == {
        ("in", ""),
        ("out", helpline.twilio.to(NUMBER)[-1]["Body"]),
    }
    assert all(m.texter_key == retention.ERASED for m in left if m.direction == "in")
    (entry,) = helpline.db.scalars(select(AuditEntry).where(AuditEntry.action == audit.ERASED))
    assert entry.detail is not None and entry.detail["conversations"] == [1]
    assert retried.status_code == 200


def test_an_erased_text_delivered_again_by_twilio_stays_erased(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("my secret", from_=NUMBER, sid="SM" + "a" * 32)
    helpline.run_jobs()
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.run_jobs()
    assert helpline.text_in("my secret", from_=NUMBER, sid="SM" + "a" * 32).status_code == 200
    helpline.run_jobs()
    assert count(helpline, Texter) == 0
    assert "my secret" not in [m.body for m in helpline.db.scalars(select(Message))]


def test_a_late_confirmation_asks_again(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.run_jobs()
    write(helpline, update(Texter).values(erase_requested_at=utcnow() - timedelta(hours=1)))
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.run_jobs()
    assert count(helpline, Texter) == 1
    assert ["text DELETE again" in t["Body"] for t in helpline.twilio.to(NUMBER)] == [True, True]


def test_conversations_closed_beyond_retention_are_purged_with_an_audit_entry(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter(max_conversations=5)
    for number in ("+15550400001", "+15550400002", "+15550400003"):
        helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    old, recent, active = helpline.db.scalars(select(Conversation.id).order_by(Conversation.id))
    for convo_id in (old, recent):
        helpline.api("POST", f"/conversations/{convo_id}/close", user=sam, json={})
    helpline.run_jobs()
    write(
        helpline,
        update(Conversation)
        .where(Conversation.id == old)
        .values(closed_at=utcnow() - timedelta(days=91)),
    )
    jobs.purge()
    helpline.look_again()
    remaining = set(helpline.db.scalars(select(Conversation.id)))
    assert remaining == {recent, active}
    assert count(helpline, Texter) == 2
    assert not list(helpline.db.scalars(select(Message).where(Message.conversation_id == old)))
    purged = helpline.db.scalars(select(AuditEntry).where(AuditEntry.action == audit.PURGED))
    assert [e.conversation_id for e in purged] == [old]


def test_an_opted_out_texter_outlives_the_purge(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("hello", from_=NUMBER)
    helpline.run_jobs()
    helpline.text_in("STOP", from_=NUMBER)
    helpline.run_jobs()
    long_ago = utcnow() - timedelta(days=400)
    write(
        helpline,
        update(Conversation).values(closed_at=long_ago),
        update(Message).values(created_at=long_ago),
    )
    jobs.purge()
    assert count(helpline, Conversation) == 0
    assert count(helpline, Message) == 0
    (texter,) = helpline.db.scalars(select(Texter))
    assert texter.opted_out


def test_a_retention_of_zero_keeps_everything(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    assert (
        helpline.api("PATCH", "/settings", user=casey, json={"retention_s": 0}).status_code == 200
    )
    sam = helpline.supporter()
    helpline.text_in("hello", from_=NUMBER)
    helpline.run_jobs()
    helpline.api("POST", "/conversations/1/close", user=sam, json={})
    write(helpline, update(Conversation).values(closed_at=utcnow() - timedelta(days=999)))
    jobs.purge()
    assert count(helpline, Conversation) == 1


def test_a_blocked_texter_can_erase_their_texts_but_stays_blocked(helpline: Helpline) -> None:
    helpline.supporter()
    casey = helpline.coordinator()
    body = {"number": NUMBER, "reason": "abuse"}
    assert helpline.api("POST", "/blocked", user=casey, json=body).status_code == 201
    helpline.text_in("abuse", from_=NUMBER)
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.text_in("DELETE", from_=NUMBER)
    helpline.run_jobs()
    assert "has been erased" in helpline.twilio.to(NUMBER)[-1]["Body"]
    assert "abuse" not in [m.body for m in helpline.db.scalars(select(Message))]
    (texter,) = helpline.db.scalars(select(Texter))
    assert texter.blocked_reason == "abuse"
