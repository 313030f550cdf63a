"""Conversations through the API: who may see them, reply, transfer and close."""

from __future__ import annotations

from sqlalchemy import select

from helpline.models import Conversation, User
from tests.support import Helpline


def assigned_conversation(helpline: Helpline, supporter: User, number: str) -> int:
    helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    convo = helpline.db.scalars(
        select(Conversation).where(Conversation.supporter_id == supporter.id)
    ).first()
    assert convo is not None
    return convo.id


def test_supporter_sees_their_conversation_without_the_number(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo_id = assigned_conversation(helpline, sam, "+15550205001")
    answer = helpline.api("GET", f"/conversations/{convo_id}", user=sam)
    assert answer.status_code == 200
    detail = answer.get_json()
    assert detail["status"] == "active" and detail["supporter_id"] == sam.id
    assert "5550205001" not in answer.get_data(as_text=True)
    assert detail["texter"]["alias"]
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]
    assert [e["kind"] for e in detail["events"]] == ["opened", "assigned"]


def test_coordinator_sees_the_texters_number(helpline: Helpline) -> None:
    sam = helpline.supporter()
    casey = helpline.coordinator()
    convo_id = assigned_conversation(helpline, sam, "+15550205002")
    detail = helpline.api("GET", f"/conversations/{convo_id}", user=casey).get_json()
    assert detail["texter"]["address"] == "+15550205002"


def test_another_supporter_cannot_read_or_reply(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    ivy = helpline.supporter("Ivy Chen", max_conversations=0)
    convo_id = assigned_conversation(helpline, sam, "+15550205003")
    assert helpline.api("GET", f"/conversations/{convo_id}", user=ivy).status_code == 403
    reply = helpline.api(
        "POST", f"/conversations/{convo_id}/messages", user=ivy, json={"body": "hi"}
    )
    assert reply.status_code == 403


def test_supporter_lists_only_their_own_conversations(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", max_conversations=1)
    ivy = helpline.supporter("Ivy Chen", max_conversations=1)
    assigned_conversation(helpline, sam, "+15550205004")
    helpline.text_in("me too", from_="+15550205005")
    helpline.run_jobs()
    mine = helpline.api("GET", "/conversations?status=active", user=ivy).get_json()["items"]
    assert [c["supporter_id"] for c in mine] == [ivy.id]


def test_reply_is_accepted_and_sent(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo_id = assigned_conversation(helpline, sam, "+15550205006")
    answer = helpline.api(
        "POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": "I'm listening."}
    )
    assert answer.status_code == 202
    helpline.run_jobs()
    assert helpline.twilio.to("+15550205006")[-1]["Body"] == "I'm listening."


def test_empty_or_overlong_reply_is_a_400(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo_id = assigned_conversation(helpline, sam, "+15550205007")
    for body in ("", "   ", "x" * 1601, None):
        answer = helpline.api(
            "POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": body}
        )
        assert answer.status_code == 400


def test_transfer_to_a_person_moves_it_and_tells_the_texter_once(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo_id = assigned_conversation(helpline, sam, "+15550205008")
    ivy = helpline.supporter("Ivy Chen")
    answer = helpline.api(
        "POST",
        f"/conversations/{convo_id}/transfer",
        user=sam,
        json={"supporter_id": ivy.id, "note": "prefers short texts"},
    )
    assert answer.status_code == 200
    assert answer.get_json()["supporter_id"] == ivy.id
    assert answer.get_json()["events"][-1]["note"] == "prefers short texts"
    helpline.run_jobs()
    texts = helpline.twilio.to("+15550205008")
    assert len(texts) == 2 and "passed to another supporter" in texts[1]["Body"]
    assert "connected with Ivy" in texts[1]["Body"]
    assert helpline.api("GET", f"/conversations/{convo_id}", user=sam).status_code == 403


def test_transfer_to_a_skill_pool_requeues_with_the_skill_required(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo_id = assigned_conversation(helpline, sam, "+15550205009")
    crisis = helpline.supporter("Cris Is", skills=["crisis"])
    answer = helpline.api(
        "POST", f"/conversations/{convo_id}/transfer", user=sam, json={"skill": "crisis"}
    )
    assert answer.status_code == 200 and answer.get_json()["required_skills"] == ["crisis"]
    helpline.run_jobs()
    detail = helpline.api("GET", f"/conversations/{convo_id}", user=crisis).get_json()
    assert detail["supporter_id"] == crisis.id


def test_transfer_to_the_pool_goes_to_someone_else(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", skills=["general"])
    convo_id = assigned_conversation(helpline, sam, "+15550205011")
    answer = helpline.api(
        "POST", f"/conversations/{convo_id}/transfer", user=sam, json={"skill": "general"}
    )
    assert answer.status_code == 200
    helpline.run_jobs()
    casey = helpline.coordinator()
    waiting = helpline.api("GET", f"/conversations/{convo_id}", user=casey).get_json()
    assert waiting["status"] == "queued"  # Sam alone is free, but Sam passed it on
    ivy = helpline.supporter("Ivy Chen", skills=["general"])
    helpline.api("PUT", f"/supporters/{ivy.id}/status", user=ivy, json={"status": "available"})
    helpline.run_jobs()
    taken = helpline.api("GET", f"/conversations/{convo_id}", user=casey).get_json()
    assert taken["supporter_id"] == ivy.id


def test_transfer_needs_exactly_one_target(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo_id = assigned_conversation(helpline, sam, "+15550205010")
    for body in ({}, {"supporter_id": sam.id, "skill": "crisis"}, {"skill": ""}):
        answer = helpline.api("POST", f"/conversations/{convo_id}/transfer", user=sam, json=body)
        assert answer.status_code == 400
    assert (
        helpline.api(
            "POST", f"/conversations/{convo_id}/transfer", user=sam, json={"supporter_id": 9999}
        ).status_code
        == 404
    )


def test_close_tells_the_texter_and_frees_the_supporter(helpline: Helpline) -> None:
    sam = helpline.supporter(max_conversations=1)
    convo_id = assigned_conversation(helpline, sam, "+15550205011")
    helpline.text_in("waiting here", from_="+15550205012")
    helpline.run_jobs()
    answer = helpline.api(
        "POST", f"/conversations/{convo_id}/close", user=sam, json={"note": "safe plan in place"}
    )
    assert answer.status_code == 200 and answer.get_json()["status"] == "closed"
    helpline.run_jobs()
    assert "ended" in helpline.twilio.to("+15550205011")[-1]["Body"]
    waiting = helpline.db.scalars(select(Conversation).where(Conversation.status == "active")).one()
    assert waiting.supporter_id == sam.id  # the freed place went to the waiting texter


def test_reply_to_a_closed_conversation_is_a_409(helpline: Helpline) -> None:
    sam = helpline.supporter()
    casey = helpline.coordinator()
    convo_id = assigned_conversation(helpline, sam, "+15550205013")
    assert helpline.api("POST", f"/conversations/{convo_id}/close", user=casey).status_code == 200
    assert helpline.api("POST", f"/conversations/{convo_id}/close", user=casey).status_code == 409
    answer = helpline.api(
        "POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": "hello?"}
    )
    assert answer.status_code in (403, 409)


def test_unknown_conversation_is_a_404(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    assert helpline.api("GET", "/conversations/424242", user=casey).status_code == 404


def test_bad_status_filter_is_a_400(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    assert helpline.api("GET", "/conversations?status=lost", user=casey).status_code == 400
