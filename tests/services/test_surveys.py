"""The survey by text after a conversation: asked with the closing text when the program has
a question, answered by a bare 1-5 within the window, and never a reason to lose a text."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from helpline.models import Conversation, Message, Program, SurveyResponse, User, utcnow
from helpline.services import assignment, handoffs, programs, surveys
from tests.support import Helpline, texter_number

SURVEY_LINE = "+15550100077"
QUESTION = "Did this conversation help? Reply 1-5."


def surveying_program(helpline: Helpline, question: str | None = QUESTION) -> Program:
    helpline.look_again()
    program = programs.save(
        helpline.db,
        Program(required_skills=[], texts={}),
        {"name": "Survey line", "numbers": [SURVEY_LINE], "survey_question": question},
    )
    helpline.db.commit()
    return program


def conversation_of(helpline: Helpline, number: str) -> Conversation:
    helpline.look_again()
    return next(
        c
        for c in helpline.db.scalars(select(Conversation).order_by(Conversation.id))
        if c.texter.address == number
    )


def closed_by(helpline: Helpline, supporter: User, number: str, outcome: str) -> Conversation:
    """The texter's conversation, closed from the inbox's service with `outcome`."""
    convo = conversation_of(helpline, number)
    me = helpline.db.get(User, supporter.id)
    assert me is not None
    assignment.close(helpline.db, convo, utcnow(), "closed", me.id, outcome=outcome)
    helpline.db.commit()
    return convo


def text(helpline: Helpline, body: str, number: str) -> None:
    helpline.text_in(body, from_=number, to=SURVEY_LINE)
    helpline.run_jobs()


def texts_to(helpline: Helpline, number: str) -> list[str]:
    helpline.look_again()
    return [
        m.body
        for m in helpline.db.scalars(
            select(Message).where(Message.direction == "out").order_by(Message.id)
        )
        if m.to_address == number
    ]


def responses(helpline: Helpline) -> list[SurveyResponse]:
    helpline.look_again()
    return list(helpline.db.scalars(select(SurveyResponse)))


def test_the_question_goes_out_with_the_closing_text(helpline: Helpline) -> None:
    sam = helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    convo = closed_by(helpline, sam, number, "supported")
    closing = texts_to(helpline, number)[-1]
    assert closing.startswith("This conversation has ended.") and closing.endswith(QUESTION)
    assert conversation_of(helpline, number).survey_sent_at is not None
    assert convo.status == "closed"


def test_a_bare_score_within_the_window_is_recorded_and_opens_nothing(helpline: Helpline) -> None:
    sam = helpline.supporter()
    program = surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    convo = closed_by(helpline, sam, number, "supported")
    sent = len(texts_to(helpline, number))
    text(helpline, " 4 ", number)
    (answer,) = responses(helpline)
    assert (answer.conversation_id, answer.program_id, answer.score) == (convo.id, program.id, 4)
    after = conversation_of(helpline, number)
    assert after.id == convo.id and after.status == "closed"
    assert helpline.db.scalars(select(Conversation)).all() == [after]
    kept = helpline.db.scalars(select(Message).where(Message.body == " 4 ")).one()
    assert kept.conversation_id == convo.id and kept.processed_at is not None
    assert len(texts_to(helpline, number)) == sent  # nothing said back


def test_a_score_long_after_the_window_opens_a_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    convo = closed_by(helpline, sam, number, "supported")
    earlier = utcnow() - surveys.WINDOW - timedelta(minutes=5)
    convo.survey_sent_at = convo.closed_at = earlier
    helpline.db.commit()
    text(helpline, "3", number)
    assert responses(helpline) == []
    assert conversation_of(helpline, number).status in ("queued", "active")


def test_any_other_text_within_the_window_opens_a_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    closed_by(helpline, sam, number, "supported")
    text(helpline, "3 more things actually", number)
    assert responses(helpline) == []
    assert conversation_of(helpline, number).status in ("queued", "active")


def test_only_the_first_score_answers_the_survey(helpline: Helpline) -> None:
    sam = helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    closed_by(helpline, sam, number, "supported")
    text(helpline, "5", number)
    text(helpline, "2", number)
    assert [r.score for r in responses(helpline)] == [5]
    assert conversation_of(helpline, number).status in ("queued", "active")


def test_an_opted_out_texter_gets_no_survey(helpline: Helpline) -> None:
    """STOP closes the conversation without a word; a later close finds them opted out too."""
    helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    before = texts_to(helpline, number)
    text(helpline, "STOP", number)
    convo = conversation_of(helpline, number)
    assert convo.status == "closed" and convo.survey_sent_at is None
    assert texts_to(helpline, number) == before
    assert surveys.question_after(convo, utcnow()) is None
    text(helpline, "4", number)
    assert responses(helpline) == []


def test_a_prank_or_abuse_outcome_gets_no_survey(helpline: Helpline) -> None:
    sam = helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    closed_by(helpline, sam, number, "prank_abuse")
    assert QUESTION not in texts_to(helpline, number)[-1]
    assert conversation_of(helpline, number).survey_sent_at is None
    text(helpline, "1", number)
    assert responses(helpline) == []


def test_a_program_without_a_question_sends_no_survey(helpline: Helpline) -> None:
    sam = helpline.supporter()
    surveying_program(helpline, question="  ")
    number = texter_number()
    text(helpline, "hi", number)
    closed_by(helpline, sam, number, "supported")
    assert (
        texts_to(helpline, number)[-1]
        == "This conversation has ended. You can text us again any time."
    )
    text(helpline, "4", number)
    assert responses(helpline) == []
    assert conversation_of(helpline, number).status in ("queued", "active")


def test_closing_for_inactivity_asks_too(helpline: Helpline) -> None:
    helpline.supporter()
    surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    later = utcnow() + timedelta(hours=1, minutes=1)
    handoffs.run_handoffs(helpline.db, later)
    helpline.db.commit()
    convo = conversation_of(helpline, number)
    assert convo.status == "closed" and convo.outcome is None
    assert convo.survey_sent_at == later
    assert texts_to(helpline, number)[-1].endswith(QUESTION)


def test_a_score_outlives_the_texters_erasure(helpline: Helpline) -> None:
    """Erasure deletes the conversation; the bare score stays, tied to no one."""
    sam = helpline.supporter()
    program = surveying_program(helpline)
    number = texter_number()
    text(helpline, "hi", number)
    closed_by(helpline, sam, number, "supported")
    text(helpline, "2", number)
    text(helpline, "DELETE", number)
    text(helpline, "DELETE", number)
    assert helpline.db.scalars(select(Conversation)).all() == []
    (kept,) = responses(helpline)
    assert (kept.conversation_id, kept.program_id, kept.score) == (None, program.id, 2)


def test_coordinators_set_a_programs_survey_question_through_the_api(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    made = helpline.api(
        "POST", "/programs", casey, json={"name": "Youth", "survey_question": QUESTION}
    )
    assert made.status_code == 201 and made.get_json()["survey_question"] == QUESTION
    path = f"/programs/{made.get_json()['id']}"
    too_long = helpline.api("PATCH", path, casey, json={"survey_question": "x" * 321})
    assert too_long.status_code == 400 and "survey_question" in too_long.get_json()["error"]
    cleared = helpline.api("PATCH", path, casey, json={"survey_question": ""})
    assert cleared.status_code == 200 and cleared.get_json()["survey_question"] is None
