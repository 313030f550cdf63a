"""The survey by text after a conversation: its program's question goes out with the closing
text, and a bare 1-5 soon after is recorded as the answer instead of opening a conversation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, SurveyResponse, Texter
from helpline.services.outcomes import NO_SURVEY
from helpline.services.texters import is_blocked

# How long after the question a bare digit counts as its answer.
WINDOW = timedelta(hours=1)
_SCORE = re.compile(r"\s*([1-5])\s*[.!]?\s*")


def question_after(convo: Conversation, now: datetime) -> str | None:
    """The question to ask as `convo` closes: its program has one, the outcome does not rule
    it out, and the texter may be written to."""
    program = convo.program
    question = (program.survey_question or "").strip() if program else ""
    if not question or convo.outcome in NO_SURVEY:
        return None
    if convo.texter.opted_out or is_blocked(convo.texter, now):
        return None
    return question


def score_in(body: str) -> int | None:
    """The score a text gives when it is just a digit 1 to 5 ("4", " 4. "), else None."""
    found = _SCORE.fullmatch(body)
    return int(found.group(1)) if found else None


def capture(session: Session, texter: Texter, message: Message, now: datetime) -> bool:
    """Record `message` as the answer to the texter's open survey; False when it is not one
    (not a bare score, no question asked within the window, or already answered)."""
    score = score_in(message.body)
    if score is None:
        return False
    convo = _awaiting_answer(session, texter, now)
    if convo is None:
        return False
    session.add(
        SurveyResponse(
            conversation_id=convo.id, program_id=convo.program_id, score=score, created_at=now
        )
    )
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind="survey_answered",
            reason=f"the texter answered the survey: {score}",
            detail={"score": score},
            created_at=now,
        )
    )
    message.conversation_id = convo.id  # kept with the conversation it answers
    return True


# Asked of every text from a texter with no open conversation, built once.
_AWAITING = (
    select(Conversation)
    .where(
        Conversation.texter_id == bindparam("texter_id"),
        Conversation.status == "closed",
        Conversation.survey_sent_at >= bindparam("since"),
        ~exists().where(SurveyResponse.conversation_id == Conversation.id),
    )
    .order_by(Conversation.survey_sent_at.desc())
    .limit(1)
)


def _awaiting_answer(session: Session, texter: Texter, now: datetime) -> Conversation | None:
    return session.scalar(_AWAITING, {"texter_id": texter.id, "since": now - WINDOW})
