"""Each routing rule driven from outside: signed webhook in, real worker, texts out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from helpline.models import Conversation, ConversationEvent, Message, Shift, User, utcnow
from helpline.services import assignment, snapshots
from routing.policy import queue_order
from tests.support import Helpline
from workers import jobs


def conversation_of(helpline: Helpline, number: str) -> Conversation:
    helpline.look_again()
    convo = next(c for c in helpline.db.scalars(select(Conversation)) if c.texter.address == number)
    return convo


def events(convo: Conversation) -> list[str]:
    return [e.kind for e in convo.events]


def age(helpline: Helpline, convo_id: int, **fields: Any) -> None:
    """Move a conversation's timestamps into the past, as if time had passed."""
    helpline.look_again()
    past = {name: utcnow() - timedelta(seconds=s) for name, s in fields.items()}
    helpline.db.execute(update(Conversation).where(Conversation.id == convo_id).values(**past))
    helpline.db.commit()


def test_risky_text_goes_to_a_crisis_trained_supporter(helpline: Helpline) -> None:
    helpline.supporter("Alex Untrained")
    crisis = helpline.supporter("Sam Crisis", skills=["crisis"])
    helpline.text_in("i want to kill myself", from_="+15550207001")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207001")
    assert convo.priority == "urgent" and convo.required_skills == ["crisis"]
    assert convo.supporter_id == crisis.id
    assert "triaged" in events(convo)


def test_urgent_texter_is_served_before_earlier_normal_ones(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Crisis", skills=["crisis"], status="away")
    helpline.text_in("hi, bad day", from_="+15550207002")
    helpline.text_in("i took all my pills", from_="+15550207003")
    helpline.run_jobs()
    assert "number 1 in line" in helpline.twilio.to("+15550207003")[0]["Body"]
    helpline.api("PUT", f"/supporters/{sam.id}/status", user=sam, json={"status": "available"})
    helpline.look_again()
    sam = helpline.db.get(User, sam.id)
    sam.max_conversations = 1
    helpline.db.commit()
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207003").supporter_id == sam.id
    assert conversation_of(helpline, "+15550207002").status == "queued"


def test_conversation_becoming_urgent_moves_to_crisis_trained_supporter(
    helpline: Helpline,
) -> None:
    alex = helpline.supporter("Alex Untrained")
    helpline.text_in("hey", from_="+15550207004")
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207004").supporter_id == alex.id
    crisis = helpline.supporter("Sam Crisis", skills=["crisis"])
    helpline.text_in("honestly i dont want to be alive", from_="+15550207004")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207004")
    assert convo.supporter_id == crisis.id and convo.priority == "urgent"
    handed = [e for e in convo.events if e.kind == "handed_off"]
    assert handed and "crisis" in handed[0].reason
    texts = helpline.twilio.to("+15550207004")
    assert len(texts) == 2 and "connected with Sam" in texts[1]["Body"]


@pytest.mark.parametrize("read_first", [None, 1])
def test_returning_texter_goes_back_to_their_previous_supporter(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch, read_first: int | None
) -> None:
    """Whatever the order: Ivy, never assigned, comes before Sam, and a pass that reads one
    supporter first reads Sam too."""
    if read_first is not None:
        monkeypatch.setattr(assignment, "_CANDIDATES", read_first)
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207005")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207005")
    helpline.api("POST", f"/conversations/{convo.id}/close", user=sam)
    helpline.supporter("Ivy Idle")  # less loaded than Sam would be
    helpline.text_in("me again", from_="+15550207005")
    helpline.run_jobs()
    again = conversation_of(helpline, "+15550207005")
    assert again.id == convo.id and again.status == "active" and again.supporter_id == sam.id
    assert events(again)[-2:] == ["reopened", "assigned"]


def test_texter_returning_after_the_window_starts_fresh(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207006")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207006")
    helpline.api("POST", f"/conversations/{convo.id}/close", user=sam)
    age(helpline, convo.id, closed_at=8 * 24 * 3600)
    helpline.text_in("hello", from_="+15550207006")
    helpline.run_jobs()
    helpline.look_again()
    assert len(helpline.db.scalars(select(Conversation)).all()) == 2


def test_going_offline_hands_conversations_on(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207007")
    helpline.run_jobs()
    ivy = helpline.supporter("Ivy Chen")
    helpline.api("PUT", f"/supporters/{sam.id}/status", user=sam, json={"status": "offline"})
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207007")
    assert convo.supporter_id == ivy.id
    handed = [e for e in convo.events if e.kind == "handed_off"]
    assert handed[0].reason == "Sam Rivers went offline"
    assert "passed to another supporter" in helpline.twilio.to("+15550207007")[-1]["Body"]


def test_no_first_reply_in_time_hands_on_and_sets_the_supporter_away(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207008")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207008")
    ivy = helpline.supporter("Ivy Chen")
    age(helpline, convo.id, assigned_at=200)
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207008")
    assert convo.supporter_id == ivy.id and convo.excluded_supporter_ids == [sam.id]
    assert helpline.db.get(User, sam.id).status == "away"


def test_a_first_reply_in_time_keeps_the_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207009")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207009")
    helpline.api("POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "hi!"})
    helpline.supporter("Ivy Chen")
    age(helpline, convo.id, assigned_at=200)
    jobs.tick()
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207009").supporter_id == sam.id


def test_a_reply_made_while_the_tick_decided_keeps_the_conversation(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tick decides on every held conversation before it takes the routing lock, then
    again, under it, on those it found due: a first reply written in between counts."""
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207019")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207019")
    helpline.supporter("Ivy Chen")
    age(helpline, convo.id, assigned_at=200)
    lock_routing = assignment.lock_routing

    def reply_meanwhile(session: Any) -> None:
        lock_routing(session)
        replied = {"first_reply_at": utcnow(), "last_reply_at": utcnow()}
        session.execute(update(Conversation).where(Conversation.id == convo.id).values(replied))

    monkeypatch.setattr(assignment, "lock_routing", reply_meanwhile)
    jobs.tick()
    monkeypatch.undo()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207019")
    assert convo.supporter_id == sam.id and "handed_off" not in events(convo)
    assert helpline.db.get(User, sam.id).status == "available"


def end_sams_shift(helpline: Helpline, sam: User, convo: Conversation) -> None:
    age(helpline, convo.id, assigned_at=600)
    helpline.db.execute(
        update(Shift)
        .where(Shift.supporter_id == sam.id)
        .values(ends_at=utcnow() - timedelta(seconds=60))
    )
    helpline.db.commit()


def test_shift_end_offers_a_warm_handoff_that_moves_on_accept(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207010")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207010")
    helpline.api("POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "hey"})
    note = helpline.api(
        "POST",
        f"/conversations/{convo.id}/notes",
        user=sam,
        json={"note": "exams stress; likes short replies"},
    )
    assert note.status_code == 201
    ivy = helpline.supporter("Ivy Chen")
    end_sams_shift(helpline, sam, convo)
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207010")
    assert convo.supporter_id == sam.id and convo.offered_to_id == ivy.id  # warm: Sam keeps it
    offered = helpline.api("GET", f"/conversations/{convo.id}", user=ivy).get_json()
    assert any(e["note"] == "exams stress; likes short replies" for e in offered["events"])
    accepted = helpline.api("POST", f"/conversations/{convo.id}/accept", user=ivy)
    assert accepted.status_code == 200 and accepted.get_json()["supporter_id"] == ivy.id
    helpline.run_jobs()
    texts = helpline.twilio.to("+15550207010")
    assert len(texts) == 3 and "connected with Ivy" in texts[-1]["Body"]
    assert helpline.api("GET", f"/conversations/{convo.id}", user=sam).status_code == 403


def test_unaccepted_warm_handoff_goes_back_to_the_queue(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207024")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207024")
    ivy = helpline.supporter("Ivy Chen")
    end_sams_shift(helpline, sam, convo)
    jobs.tick()
    helpline.run_jobs()
    age(helpline, convo.id, offered_at=121)
    kim = helpline.supporter("Kim Park")
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207024")
    assert convo.supporter_id == kim.id and ivy.id in convo.excluded_supporter_ids


def test_only_the_offered_supporter_can_accept(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207025")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207025")
    assert helpline.api("POST", f"/conversations/{convo.id}/accept", user=sam).status_code == 409


def test_quiet_supporter_is_nudged_then_the_conversation_moves(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207026")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207026")
    helpline.api("POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "hi!"})
    helpline.text_in("so, about today...", from_="+15550207026")
    helpline.run_jobs()
    ivy = helpline.supporter("Ivy Chen")
    age(helpline, convo.id, last_reply_at=400, last_inbound_at=301)
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207026")
    assert convo.supporter_id == sam.id and "nudged" in events(convo)
    age(helpline, convo.id, last_reply_at=700, last_inbound_at=601)
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207026")
    assert convo.supporter_id == ivy.id
    assert any(e.reason.startswith("texter waited") for e in convo.events)


def test_quiet_conversation_is_closed_with_a_closing_text(helpline: Helpline) -> None:
    helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207011")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207011")
    age(helpline, convo.id, last_activity_at=3601)
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207011")
    assert convo.status == "closed"
    assert "ended" in helpline.twilio.to("+15550207011")[-1]["Body"]
    closed = helpline.db.scalars(
        select(ConversationEvent).where(ConversationEvent.kind == "closed")
    ).one()
    assert closed.reason.startswith("no texts for")


def test_urgent_conversations_take_more_of_the_limit(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Crisis", skills=["crisis"], max_conversations=2)
    helpline.text_in("i want to die", from_="+15550207012")
    helpline.run_jobs()
    helpline.text_in("hello", from_="+15550207013")
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207012").supporter_id == sam.id
    assert conversation_of(helpline, "+15550207013").status == "queued"


def test_out_of_hours_texter_is_told_when_the_line_opens(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    helpline.api(
        "PATCH",
        "/settings",
        user=casey,
        json={
            "emergency_numbers": "call 911 or text 988.",
            "helpline_timezone": "America/New_York",
        },
    )
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    opens = (utcnow() + timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    helpline.api(
        "POST",
        "/shifts",
        user=casey,
        json={
            "supporter_id": sam.id,
            "starts_at": opens.isoformat(),
            "ends_at": (opens + timedelta(hours=3)).isoformat(),
        },
    )
    helpline.text_in("anyone?", from_="+15550207014")
    helpline.run_jobs()
    (text,) = helpline.twilio.to("+15550207014")
    local = opens.astimezone(ZoneInfo("America/New_York"))
    assert "Nobody is on the line right now" in text["Body"]
    assert local.strftime("%A at %H:%M") in text["Body"]
    assert "call 911 or text 988." in text["Body"]
    assert conversation_of(helpline, "+15550207014").status == "queued"


def test_waiting_texter_while_staffed_gets_their_place_not_out_of_hours(
    helpline: Helpline,
) -> None:
    helpline.supporter("Sam Rivers", status="away")
    helpline.text_in("hello", from_="+15550207015")
    helpline.run_jobs()
    assert "number 1 in line" in helpline.twilio.to("+15550207015")[0]["Body"]


def test_urgent_texter_without_crisis_help_goes_to_anyone_and_alerts(helpline: Helpline) -> None:
    alex = helpline.supporter("Alex Untrained")
    helpline.text_in("i want to end my life", from_="+15550207016")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207016")
    assert convo.status == "queued"
    age(helpline, convo.id, urgent_since=121)
    jobs.tick()
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207016")
    assert convo.supporter_id == alex.id
    assert "alert" in events(convo)
    assignment = [e for e in convo.events if e.kind == "assigned"][-1]
    assert assignment.reason.startswith("no crisis-trained supporter free")
    # ...and it stays with Alex: the handoff rules do not take it back for the waived skill.
    jobs.tick()
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207016").supporter_id == alex.id


def test_whatsapp_reply_after_24_hours_is_refused_and_explained(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hola", from_="whatsapp:+15550207017", to="whatsapp:+15550100000")
    helpline.run_jobs()
    convo = conversation_of(helpline, "whatsapp:+15550207017")
    detail = helpline.api("GET", f"/conversations/{convo.id}", user=sam).get_json()
    assert detail["reply_window_closes_at"]
    ok = helpline.api(
        "POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "hi, I'm here"}
    )
    assert ok.status_code == 202
    age(helpline, convo.id, last_inbound_at=24 * 3600 + 1)
    late = helpline.api(
        "POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "still there?"}
    )
    assert late.status_code == 409 and "24-hour" in late.get_json()["error"]


def test_sms_has_no_reply_window(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hi", from_="+15550207018")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207018")
    age(helpline, convo.id, last_inbound_at=3 * 24 * 3600)
    answer = helpline.api(
        "POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "checking in"}
    )
    assert answer.status_code == 202
    assert (
        helpline.api("GET", f"/conversations/{convo.id}", user=sam).get_json()[
            "reply_window_closes_at"
        ]
        is None
    )


def test_program_number_routes_by_its_language_and_speaks_its_texts(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    created = helpline.api(
        "POST",
        "/programs",
        user=casey,
        json={
            "name": "Línea en español",
            "numbers": ["+15550109999"],
            "language": "es",
            "texts": {
                "text_greeting": "Gracias por escribir.",
                "text_connected": "Ahora hablas con {supporter_name}.",
            },
        },
    )
    assert created.status_code == 201
    helpline.supporter("Alex English", languages=["en"])
    ana = helpline.supporter("Ana Díaz", languages=["en", "es"])
    helpline.text_in("hola", from_="+15550207019", to="+15550109999")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207019")
    assert convo.language == "es" and convo.supporter_id == ana.id
    (text,) = helpline.twilio.to("+15550207019")
    assert text["Body"] == "Gracias por escribir. Ahora hablas con Ana."
    assert text["From"] == "+15550109999"


def test_unknown_number_falls_back_to_the_default_program(helpline: Helpline) -> None:
    helpline.supporter("Alex English", languages=["en"])
    helpline.text_in("hello", from_="+15550207020", to="+15550108888")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207020")
    assert convo.program_id is None and convo.status == "active"


def test_a_number_belongs_to_one_program_only(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    first = helpline.api(
        "POST", "/programs", user=casey, json={"name": "Youth", "numbers": ["+15550107777"]}
    )
    assert first.status_code == 201
    second = helpline.api(
        "POST", "/programs", user=casey, json={"name": "Other", "numbers": ["+15550107777"]}
    )
    assert second.status_code == 409
    bad = helpline.api("POST", "/programs", user=casey, json={"name": "X", "language": "Spanish"})
    assert bad.status_code == 400


def test_waiting_texter_hears_their_place_every_few_minutes(helpline: Helpline) -> None:
    helpline.supporter("Sam Rivers", status="away")
    helpline.text_in("hello?", from_="+15550207021")
    helpline.run_jobs()
    jobs.tick()
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550207021")) == 1  # just told; not again so soon
    helpline.look_again()
    helpline.db.execute(update(Message).values(created_at=utcnow() - timedelta(seconds=301)))
    helpline.db.commit()
    jobs.tick()
    helpline.run_jobs()
    texts = helpline.twilio.to("+15550207021")
    assert len(texts) == 2 and "number 1 in line" in texts[1]["Body"]
    assert "about" not in texts[1]["Body"]  # no service yet to estimate from


def test_a_text_flood_is_stored_flagged_and_routed_by_the_tick(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    helpline.api("PATCH", "/settings", user=casey, json={"flood_texts_per_minute": 5})
    helpline.supporter("Sam Rivers", status="away")
    for i in range(12):
        helpline.text_in(f"text {i}", from_="+15550207022")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207022")
    assert len([m for m in convo.messages if m.direction == "in"]) == 12  # nothing dropped
    assert convo.flagged and "flagged" in events(convo)


def test_texter_reopening_again_and_again_is_flagged_then_limited(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    helpline.api(
        "PATCH",
        "/settings",
        user=casey,
        json={"flood_flag_after": 2, "flood_limit_after": 3, "return_window_s": 0},
    )
    sam = helpline.supporter("Sam Rivers")
    for round_ in range(3):
        helpline.text_in(f"hi {round_}", from_="+15550207023")
        helpline.run_jobs()
        convo = next(
            c
            for c in helpline.db.scalars(
                select(Conversation).where(Conversation.status == "active")
            )
        )
        helpline.api("POST", f"/conversations/{convo.id}/close", user=sam)
        helpline.run_jobs()
    helpline.look_again()
    flags = [
        (c.flagged, c.limited)
        for c in helpline.db.scalars(select(Conversation).order_by(Conversation.id))
    ]
    assert flags == [(False, False), (True, False), (True, True)]


def test_lapsed_crisis_training_stops_urgent_assignments(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    lapsed = helpline.supporter("Lee Lapsed", skills=["crisis"])
    current = helpline.supporter("Cam Current", skills=["crisis"])
    answer = helpline.api(
        "PATCH",
        f"/supporters/{lapsed.id}",
        user=casey,
        json={"skill_expiry": {"crisis": (utcnow() - timedelta(days=1)).isoformat()}},
    )
    assert answer.status_code == 200 and "crisis" in answer.get_json()["skill_expiry"]
    helpline.text_in("i want to kill myself", from_="+15550207027")
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207027").supporter_id == current.id


def test_coordinators_on_shift_take_conversations_too(helpline: Helpline) -> None:
    casey = helpline.supporter("Casey Coordinator", role="coordinator")
    helpline.text_in("hi", from_="+15550207028")
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207028").supporter_id == casey.id


def test_intake_answer_that_signals_danger_makes_the_texter_urgent(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    helpline.api(
        "PATCH",
        "/settings",
        user=casey,
        json={"text_intake": "While you wait: are you safe right now? Reply 1 for yes, 2 for no."},
    )
    helpline.supporter("Sam Rivers", status="away")
    helpline.text_in("hi", from_="+15550207029")
    helpline.text_in("hello", from_="+15550207030")
    helpline.run_jobs()
    (asked,) = helpline.twilio.to("+15550207030")
    assert "number 2 in line" in asked["Body"] and "are you safe right now?" in asked["Body"]
    helpline.text_in("2", from_="+15550207030")
    helpline.text_in("1", from_="+15550207029")
    helpline.run_jobs()
    unsafe = conversation_of(helpline, "+15550207030")
    assert unsafe.priority == "urgent" and unsafe.intake_answer == "2"
    assert conversation_of(helpline, "+15550207029").priority == "normal"
    queue = helpline.api("GET", "/queue", user=casey).get_json()["items"]
    assert queue[0]["id"] == unsafe.id  # jumped the line


def test_coordinators_add_their_own_risk_phrases(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    assert (
        helpline.api(
            "PATCH",
            "/settings",
            user=casey,
            json={"risk_extra_phrases": "want to disappear\nno way out"},
        ).status_code
        == 200
    )
    helpline.supporter("Sam Crisis", skills=["crisis"])
    helpline.text_in("there's NO  way out for me", from_="+15550207031")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207031")
    assert convo.priority == "urgent" and "crisis" in convo.required_skills


def test_escalating_to_the_crisis_pool_makes_it_urgent(helpline: Helpline) -> None:
    alex = helpline.supporter("Alex Untrained")
    helpline.text_in("hi", from_="+15550207032")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550207032")
    crisis = helpline.supporter("Sam Crisis", skills=["crisis"])
    answer = helpline.api(
        "POST",
        f"/conversations/{convo.id}/transfer",
        user=alex,
        json={"skill": "crisis", "note": "mentioned pills"},
    )
    assert answer.status_code == 200 and answer.get_json()["priority"] == "urgent"
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207032").supporter_id == crisis.id


def test_a_pass_reads_past_a_page_nobody_free_can_take(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue is read a page at a time; a first page of texters who need crisis-trained
    help does not stop an untrained supporter's free place going to the next texter."""
    monkeypatch.setattr(assignment, "_PAGE", 1)
    for number in ("+15550207101", "+15550207102"):
        helpline.text_in("i want to kill myself", from_=number)
    helpline.text_in("hello", from_="+15550207103")
    helpline.run_jobs()
    alex = helpline.supporter("Alex Untrained", max_conversations=1)
    helpline.text_in("anyone there?", from_="+15550207104")
    helpline.run_jobs()
    held = {
        n: conversation_of(helpline, n).supporter_id
        for n in ("+15550207101", "+15550207102", "+15550207103", "+15550207104")
    }
    assert held == {
        "+15550207101": None,
        "+15550207102": None,
        "+15550207103": alex.id,
        "+15550207104": None,
    }
    last = helpline.twilio.to("+15550207104")
    assert "connected" not in last[-1]["Body"]


def test_a_pass_reads_more_supporters_when_the_first_cannot_take_a_texter(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass reads the first free supporters only; a texter who needs crisis-trained help
    none of them has makes it read further, and find her."""
    monkeypatch.setattr(assignment, "_CANDIDATES", 1)
    helpline.supporter("Alex Untrained")
    helpline.supporter("Blair Untrained")
    crisis = helpline.supporter("Sam Crisis", skills=["crisis"])
    helpline.text_in("i want to kill myself", from_="+15550207201")
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207201").supporter_id == crisis.id


def test_a_batch_larger_than_the_supporters_read_first_is_placed_in_one_pass(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first supporters' places run out: the pass reads every free one, and plans again."""
    monkeypatch.setattr(assignment, "_CANDIDATES", 1)
    team = [helpline.supporter(f"Supporter {n}", max_conversations=1) for n in range(3)]
    numbers = [f"+1555020721{n}" for n in range(3)]
    for number in numbers:
        helpline.text_in("hello", from_=number)
    helpline.run_jobs()  # one drain, one batch, one pass
    held = {conversation_of(helpline, n).supporter_id for n in numbers}
    assert held == {s.id for s in team}


def test_place_in_line_is_counted_in_queue_order(helpline: Helpline) -> None:
    """The count in SQL agrees with `queue_order`: urgent first, limited texters last within
    a priority, then the longest wait, then the oldest id (equal waits included)."""
    numbers = [f"+155502072{i:02d}" for i in range(6)]
    for number in numbers:
        helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    ids = [conversation_of(helpline, n).id for n in numbers]
    same = utcnow() - timedelta(minutes=5)
    shapes = [
        ("normal", False, same),
        ("urgent", True, same - timedelta(minutes=1)),
        ("normal", True, same - timedelta(minutes=9)),
        ("urgent", False, same),
        ("normal", False, same),
        ("urgent", False, same - timedelta(minutes=2)),
    ]
    for convo_id, (priority, limited, since) in zip(ids, shapes, strict=True):
        helpline.db.execute(
            update(Conversation)
            .where(Conversation.id == convo_id)
            .values(priority=priority, limited=limited, waiting_since=since)
        )
    helpline.db.commit()
    rows = helpline.db.scalars(select(Conversation).where(Conversation.id.in_(ids))).all()
    expected = [c.id for c in queue_order([snapshots.conversation(c) for c in rows])]
    assert expected == [ids[5], ids[3], ids[1], ids[0], ids[4], ids[2]]
    for row in rows:
        assert assignment.queue_position(helpline.db, row) == expected.index(row.id) + 1


def test_a_supporter_whose_shift_today_was_cancelled_is_not_given_texters(
    helpline: Helpline,
) -> None:
    """Candidates' shifts, skills and languages are read as text and parsed once per distinct
    value: a cancelled occurrence still takes its supporter off the rota, and two supporters
    sharing one skill set keep their own languages."""
    from helpline.services import shifts

    away = helpline.supporter("Ari Away", on_shift=False, skills=["crisis"], languages=["en"])
    started = (utcnow() - timedelta(hours=1)).replace(second=0, microsecond=0)
    weekly = shifts.create_shift(
        helpline.db, away.id, started, started + timedelta(hours=4), rrule="FREQ=WEEKLY"
    )
    shifts.cancel_occurrence(helpline.db, weekly, started)
    helpline.db.commit()
    here = helpline.supporter("Hana Here", skills=["crisis"], languages=["es"])
    found = snapshots.candidates(helpline.db, utcnow(), timedelta(minutes=5))
    assert [s.id for s in found.supporters] == [here.id]
    assert found.supporters[0].languages == frozenset({"es"})
    assert found.off_shift == 1
    helpline.text_in("i want to kill myself", from_="+15550207090")
    helpline.run_jobs()
    assert conversation_of(helpline, "+15550207090").supporter_id == here.id
