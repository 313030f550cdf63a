"""A known week of conversations for the reports' web and browser tests.

The helpline runs on London time; the week is Monday 23 to Sunday 29 March 2026, whose Sunday
is the 23-hour day the clocks go forward. The figures each CSV must show are worked out by
hand below, from these rows alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from helpline import vault
from helpline.config import Settings
from helpline.models import (
    Conversation,
    ConversationEvent,
    Message,
    Program,
    SurveyResponse,
    Texter,
    User,
)
from helpline.services import settings as settings_service
from helpline.services import users
from tests.support import HELPLINE_NUMBER, PASSWORD

ZONE = "Europe/London"
FIRST, LAST = "2026-03-23", "2026-03-29"
QUERY = {"from": FIRST, "to": LAST}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Week:
    sam: User
    ivy: User
    youth: Program


def seed_week(db: Session, settings: Settings) -> Week:
    """Five conversations: two served on Monday (one urgent, handed off when Ivy went
    offline), one in the youth program still waiting, one abandoned at 00:30 on the clock
    change day, and one on the Monday after (outside the week)."""
    vault.configure(settings.vault_key)
    db.rollback()
    settings_service.update(db, {"helpline_timezone": ZONE})
    sam = users.create_user(db, "sam.reports@example.org", "Sam Rivers", PASSWORD, "supporter")
    # A name a spreadsheet would run as a formula: the CSV must defuse it.
    ivy = users.create_user(db, "ivy.reports@example.org", "=Ivy Chen", PASSWORD, "supporter")
    youth = Program(name="Youth line", required_skills=[], texts={})
    db.add(youth)
    db.flush()
    a, b, c, d = (_texter(db, f"+1555030{n:04d}") for n in range(4))
    c1 = _conversation(db, a, at(23, 10), closed=at(23, 10, 30))
    _events(db, c1, ("assigned", at(23, 10, 2), sam.id), ("closed", at(23, 10, 30), sam.id))
    _replies(db, c1, a, sam, at(23, 10, 5), at(23, 10, 8))
    c1.outcome, c1.survey_sent_at = "supported", at(23, 10, 30)
    db.add(SurveyResponse(conversation_id=c1.id, score=4, created_at=at(23, 10, 35)))
    c2 = _conversation(db, b, at(23, 11), closed=at(23, 11, 40), urgent_since=at(23, 11))
    _events(
        db,
        c2,
        ("assigned", at(23, 11, 1), ivy.id),
        ("handed_off", at(23, 11, 20), ivy.id, {"rule": "offline"}),
        ("assigned", at(23, 11, 25), sam.id),
        ("closed", at(23, 11, 40), sam.id),
    )
    _replies(db, c2, b, ivy, at(23, 11, 3))
    _replies(db, c2, b, sam, at(23, 11, 30))
    c2.outcome, c2.survey_sent_at = "referred", at(23, 11, 40)  # asked, never answered
    _conversation(db, d, at(25, 9), program=youth)
    c3 = _conversation(db, a, at(29, 0, 30), closed=at(29, 0, 40))  # 00:30 GMT, Sunday
    _events(db, c3, ("closed", at(29, 0, 40), None))
    _conversation(db, c, at(29, 23, 30))  # 00:30 BST on Monday 30: the next week
    db.commit()
    return Week(sam, ivy, youth)


# The figures, by hand. Monday: first replies after 5 and 3 minutes; the urgent texter
# waited one minute for Ivy. Sunday: 23 hours, one conversation, abandoned.
DAILY = [
    ["2026-03-23", "2026-03-23", "24", "2", "2", "2", "240.0", "288.0", "0", "1", "1"]
    + ["60.0", "60.0", "1"],
    ["2026-03-24", "2026-03-24", "24", "0", "0", "0", "", "", "0", "0", "0", "", "", "0"],
    ["2026-03-25", "2026-03-25", "24", "1", "1", "0", "", "", "0", "0", "0", "", "", "0"],
    *(
        [f"2026-03-{d}", f"2026-03-{d}", "24", "0", "0", "0", "", "", "0", "0", "0", "", "", "0"]
        for d in (26, 27, 28)
    ),
    ["2026-03-29", "2026-03-29", "23", "1", "1", "0", "", "", "1", "0", "0", "", "", "0"],
]
WEEKLY = [[FIRST, LAST, "167", "4", "3", "2", "240.0", "288.0", "1", "1", "1", "60.0", "60.0", "1"]]
# Monday: both asked the survey, one answered 4; one closed "supported", one "referred".
# Sunday's was closed without ever being held: no outcome, no survey.
FEEDBACK_WEEKLY = [[FIRST, LAST, "2", "1", "4.0", "1", "1", "0", "0", "0", "0", "0"]]
# Sam held Monday's first (10:02-10:30) and the urgent one after Ivy (11:25-11:40); Ivy held
# it 11:01-11:20.
SUPPORTERS = [
    ["{sam}", "Sam Rivers", "2", "3", str((28 + 15) * 60)],
    ["{ivy}", "'=Ivy Chen", "1", "1", str(19 * 60)],
]


def supporters_csv(week: Week) -> list[list[str]]:
    ids = {"{sam}": str(week.sam.id), "{ivy}": str(week.ivy.id)}
    rows = [[ids.get(cell, cell) for cell in row] for row in SUPPORTERS]
    return sorted(rows, key=lambda row: int(row[0]))


def _texter(db: Session, number: str) -> Texter:
    texter = Texter(address=number, address_key=vault.index(number))
    db.add(texter)
    db.flush()
    return texter


def _conversation(
    db: Session,
    texter: Texter,
    opened: datetime,
    closed: datetime | None = None,
    urgent_since: datetime | None = None,
    program: Program | None = None,
) -> Conversation:
    convo = Conversation(
        texter_id=texter.id,
        status="closed" if closed else "queued",
        priority="urgent" if urgent_since else "normal",
        required_skills=[],
        excluded_supporter_ids=[],
        helpline_number=HELPLINE_NUMBER,
        waiting_since=opened,
        created_at=opened,
        closed_at=closed,
        urgent_since=urgent_since,
        program_id=program.id if program else None,
    )
    db.add(convo)
    db.flush()
    _events(db, convo, ("opened", opened, None))
    return convo


def _events(db: Session, convo: Conversation, *rows: tuple[Any, ...]) -> None:
    for kind, when, supporter_id, *detail in rows:
        db.add(
            ConversationEvent(
                conversation_id=convo.id,
                kind=kind,
                reason=kind,
                supporter_id=supporter_id,
                detail=detail[0] if detail else None,
                created_at=when,
            )
        )


def _replies(
    db: Session, convo: Conversation, texter: Texter, author: User, *times: datetime
) -> None:
    for when in times:
        db.add(
            Message(
                conversation_id=convo.id,
                direction="out",
                body="I'm here",
                from_address=HELPLINE_NUMBER,
                to_address=texter.address,
                texter_key=texter.address_key,
                author_id=author.id,
                delivery_status="delivered",
                created_at=when,
            )
        )
