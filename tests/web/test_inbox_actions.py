"""The thread's actions: close with an outcome, a staff note, escalate to crisis, and the
handoff note left from the end-of-shift heads-up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from helpline.models import AuditEntry, Conversation, ConversationEvent, utcnow
from helpline.services import audit, shifts
from tests.support import Helpline, texter_number
from tests.web.conftest import post_form, sign_in


def held_conversation(helpline: Helpline, number: str, body: str = "hello") -> Conversation:
    helpline.text_in(body, from_=number)
    helpline.run_jobs()
    return next(c for c in helpline.db.scalars(select(Conversation)) if c.texter.address == number)


def events_of(helpline: Helpline, convo: Conversation, kind: str) -> list[ConversationEvent]:
    helpline.look_again()
    return list(
        helpline.db.scalars(
            select(ConversationEvent).where(
                ConversationEvent.conversation_id == convo.id, ConversationEvent.kind == kind
            )
        )
    )


def thread_path(convo: Conversation) -> str:
    return f"/inbox/conversations/{convo.id}"


# Close with an outcome -----------------------------------------------------------------------


def test_closing_without_an_outcome_is_refused_and_the_conversation_stays_open(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter()
    convo = held_conversation(helpline, texter_number())
    sign_in(helpline.client, sam)
    path = thread_path(convo)
    for form in ({"note": "done"}, {"outcome": "cured"}):
        answer = post_form(helpline.client, path + "/close", form, path)
        assert answer.status_code == 400
        assert "Choose how the conversation ended" in answer.get_data(as_text=True)
    helpline.look_again()
    assert helpline.db.get(Conversation, convo.id).status == "active"  # type: ignore[union-attr]


def test_the_outcome_is_stored_on_the_conversation_and_in_the_close_event(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter()
    convo = held_conversation(helpline, texter_number())
    sign_in(helpline.client, sam)
    path = thread_path(convo)
    answer = post_form(helpline.client, path + "/close", {"outcome": "referred"}, path)
    assert answer.status_code == 302
    (closed,) = events_of(helpline, convo, "closed")
    assert closed.detail == {"outcome": "referred"} and closed.actor_id == sam.id
    assert helpline.db.get(Conversation, convo.id).outcome == "referred"  # type: ignore[union-attr]
    shown = helpline.api("GET", f"/conversations/{convo.id}", sam).get_json()
    assert shown["outcome"] == "referred"


def test_the_close_form_offers_every_outcome(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = held_conversation(helpline, texter_number())
    sign_in(helpline.client, sam)
    page = helpline.client.get(thread_path(convo)).get_data(as_text=True)
    for slug in ("supported", "referred", "safety_plan", "texter_left", "prank_abuse", "other"):
        assert f'value="{slug}"' in page


def test_api_close_takes_an_optional_outcome_and_refuses_unknown_ones(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = held_conversation(helpline, texter_number())
    path = f"/conversations/{convo.id}/close"
    wrong = helpline.api("POST", path, sam, json={"outcome": "fine"})
    assert wrong.status_code == 400 and "outcome must be one of" in wrong.get_json()["error"]
    closed = helpline.api("POST", path, sam, json={"note": "ok", "outcome": "safety_plan"})
    assert closed.status_code == 200 and closed.get_json()["outcome"] == "safety_plan"
    other = held_conversation(helpline, texter_number())
    plain = helpline.api("POST", f"/conversations/{other.id}/close", sam, json={"note": "ok"})
    assert plain.status_code == 200 and plain.get_json()["outcome"] is None


# A staff note ------------------------------------------------------------------------------


def test_a_staff_note_shows_in_the_thread_and_is_never_texted(helpline: Helpline) -> None:
    sam = helpline.supporter()
    number = texter_number()
    convo = held_conversation(helpline, number)
    texted = len(helpline.twilio.to(number))
    sign_in(helpline.client, sam)
    path = thread_path(convo)
    answer = post_form(helpline.client, path + "/notes", {"note": "prefers short replies"}, path)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(path)
    page = helpline.client.get(path).get_data(as_text=True)
    assert "data-staff-note" in page and "prefers short replies" in page
    (note,) = events_of(helpline, convo, "note")
    assert note.note == "prefers short replies" and note.actor_id == sam.id
    helpline.run_jobs()
    assert len(helpline.twilio.to(number)) == texted
    acted = helpline.db.scalars(
        select(AuditEntry).where(
            AuditEntry.conversation_id == convo.id,
            AuditEntry.action == audit.ACTED,
            AuditEntry.path == path + "/notes",
        )
    ).all()
    assert len(acted) == 1 and acted[0].actor_id == sam.id


def test_an_empty_note_is_refused(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = held_conversation(helpline, texter_number())
    sign_in(helpline.client, sam)
    path = thread_path(convo)
    answer = post_form(helpline.client, path + "/notes", {"note": "   "}, path)
    assert answer.status_code == 400
    assert events_of(helpline, convo, "note") == []


def test_another_supporter_cannot_note_escalate_or_close_my_conversation(
    helpline: Helpline,
) -> None:
    """Ivy is told the conversation does not exist, and nothing about it changes."""
    helpline.supporter("Sam Rivers")
    convo = held_conversation(helpline, texter_number())
    ivy = helpline.supporter("Ivy Chen", skills=["crisis"])
    sign_in(helpline.client, ivy)
    path = thread_path(convo)
    for action, form in (
        ("/notes", {"note": "hi"}),
        ("/escalate", {"note": "worried"}),
        ("/close", {"outcome": "supported"}),
    ):
        assert post_form(helpline.client, path + action, form).status_code == 404
    helpline.look_again()
    after = helpline.db.get(Conversation, convo.id)
    assert after is not None and after.status == "active" and after.priority == "normal"
    assert events_of(helpline, convo, "note") == events_of(helpline, convo, "escalated") == []


# Escalate to crisis ------------------------------------------------------------------------


def test_escalating_hands_the_conversation_to_a_crisis_trained_supporter(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers")
    number = texter_number()
    convo = held_conversation(helpline, number)
    ivy = helpline.supporter("Ivy Chen", skills=["crisis"])
    sign_in(helpline.client, sam)
    path = thread_path(convo)
    answer = post_form(helpline.client, path + "/escalate", {"note": "talked of a plan"}, path)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/inbox")
    helpline.look_again()
    after = helpline.db.get(Conversation, convo.id)
    assert after is not None and after.priority == "urgent"
    assert "crisis" in after.required_skills and after.supporter_id == ivy.id
    (escalated,) = events_of(helpline, convo, "escalated")
    assert escalated.note == "talked of a plan" and escalated.actor_id == sam.id
    assert [e.detail for e in events_of(helpline, convo, "handed_off")] == [{"rule": "needs_skill"}]
    # Ivy sees why, as the handoff note; the texter is told they are with someone new.
    ivys = helpline.app.test_client()
    sign_in(ivys, ivy)
    assert "talked of a plan" in ivys.get(path).get_data(as_text=True)
    helpline.run_jobs()
    assert "Ivy" in helpline.twilio.to(number)[-1]["Body"]


def test_a_crisis_trained_holder_keeps_the_escalated_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", skills=["crisis"])
    convo = held_conversation(helpline, texter_number())
    sign_in(helpline.client, sam)
    path = thread_path(convo)
    answer = post_form(helpline.client, path + "/escalate", {}, path)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(path)
    helpline.look_again()
    after = helpline.db.get(Conversation, convo.id)
    assert after is not None and after.supporter_id == sam.id and after.priority == "urgent"
    assert events_of(helpline, convo, "handed_off") == []
    again = post_form(helpline.client, path + "/escalate", {}, path)
    assert again.status_code == 409 and "already urgent" in again.get_data(as_text=True)


def test_a_coordinator_may_escalate_a_supporters_conversation(helpline: Helpline) -> None:
    helpline.supporter("Sam Rivers")
    convo = held_conversation(helpline, texter_number())
    casey = helpline.coordinator()
    sign_in(helpline.client, casey)
    path = thread_path(convo)
    assert post_form(helpline.client, path + "/escalate", {}, path).status_code == 302
    helpline.look_again()
    after = helpline.db.get(Conversation, convo.id)
    assert after is not None and after.priority == "urgent" and after.supporter_id is None
    assert after.status == "queued"  # nobody crisis-trained is on: it waits, urgent


# The handoff note from the shift heads-up --------------------------------------------------


def test_the_shift_heads_up_offers_a_handoff_note_on_each_open_conversation(
    helpline: Helpline,
) -> None:
    ivy = helpline.supporter("Ivy Chen", on_shift=False)
    now = utcnow()
    shifts.create_shift(helpline.db, ivy.id, now - timedelta(hours=3), now + timedelta(minutes=10))
    helpline.db.commit()
    first = held_conversation(helpline, texter_number())
    second = held_conversation(helpline, texter_number())
    for convo in (first, second):
        convo.status, convo.supporter_id = "active", ivy.id
    helpline.db.commit()
    sign_in(helpline.client, ivy)
    page = helpline.client.get("/inbox").get_data(as_text=True)
    for convo in (first, second):
        assert f'action="/inbox/conversations/{convo.id}/notes"' in page
    answer = post_form(
        helpline.client,
        f"/inbox/conversations/{first.id}/notes",
        {"note": "asked about her exam tomorrow", "back": "inbox"},
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/inbox")
    (note,) = events_of(helpline, first, "note")
    assert note.note == "asked about her exam tomorrow" and note.actor_id == ivy.id
    # Whoever holds it next sees the note first.
    sam = helpline.supporter("Sam Rivers")
    held = helpline.db.get(Conversation, first.id)
    assert held is not None
    held.supporter_id = sam.id
    helpline.db.commit()
    sams = helpline.app.test_client()
    sign_in(sams, sam)
    thread = sams.get(thread_path(first)).get_data(as_text=True)
    assert "Handoff note" in thread and "asked about her exam tomorrow" in thread


def test_api_escalate_makes_it_urgent_and_refuses_twice(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", skills=["crisis"])
    convo = held_conversation(helpline, texter_number())
    path = f"/conversations/{convo.id}/escalate"
    first = helpline.api("POST", path, sam, json={"note": "mentioned pills"})
    assert first.status_code == 200
    shown = first.get_json()
    assert shown["priority"] == "urgent" and "crisis" in shown["required_skills"]
    assert shown["supporter_id"] == sam.id
    assert [e["note"] for e in shown["events"] if e["kind"] == "escalated"] == ["mentioned pills"]
    again = helpline.api("POST", path, sam)
    assert again.status_code == 409 and "already" in again.get_json()["error"]
