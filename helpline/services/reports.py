"""Reports: read the few columns the figures need, and let routing.reports count."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ScalarSelect

from helpline.models import (
    Conversation,
    ConversationEvent,
    Message,
    Program,
    SurveyResponse,
    User,
)
from helpline.services.outcomes import OUTCOMES
from routing.reports import (
    ConversationFact,
    EventFact,
    Figures,
    ReplyFact,
    Report,
    SupporterLoad,
    build_report,
    days_period,
)

# The events the figures read: who held a conversation when, and every handoff.
EVENT_KINDS = ("assigned", "handed_off", "transferred", "offered", "closed", "reopened")


def programs(session: Session) -> list[tuple[int, str]]:
    return [(p.id, p.name) for p in session.execute(select(Program.id, Program.name)).all()]


def report(
    session: Session,
    zone: str,
    first: date,
    last: date,
    now: datetime,
    program_id: int | None = None,
) -> Report:
    """The report for the conversations that opened on local days `first`..`last`, in one
    program or all of them: three queries, whatever the number of conversations."""
    period = days_period(first, last, zone)
    in_range = select(Conversation.id).where(
        Conversation.created_at >= period.starts_at, Conversation.created_at < period.ends_at
    )
    if program_id is not None:
        in_range = in_range.where(Conversation.program_id == program_id)
    ids = in_range.scalar_subquery()
    replies = _replies(session, ids)
    first_reply: dict[int, datetime] = {}
    for convo_id, _, _, at in replies:
        first_reply[convo_id] = min(at, first_reply.get(convo_id, at))
    convos = [
        ConversationFact(
            id_,
            texter,
            opened,
            status == "closed",
            urgent,
            first_reply.get(id_),
            outcome,
            asked is not None,
            score,
        )
        for id_, texter, opened, status, urgent, outcome, asked, score in session.execute(
            select(
                Conversation.id,
                Conversation.texter_id,
                Conversation.created_at,
                Conversation.status,
                Conversation.urgent_since,
                Conversation.outcome,
                Conversation.survey_sent_at,
                _first_score(),
            ).where(Conversation.id.in_(ids))
        )
    ]
    return build_report(
        convos,
        _events(session, ids),
        [ReplyFact(convo_id, author, count) for convo_id, author, count, _ in replies],
        zone,
        first,
        last,
        now,
    )


def _first_score() -> ScalarSelect[int]:
    """The texter's answer to the survey after this conversation (only the first counts)."""
    return (
        select(SurveyResponse.score)
        .where(SurveyResponse.conversation_id == Conversation.id)
        .order_by(SurveyResponse.id)
        .limit(1)
        .scalar_subquery()
    )


def _replies(session: Session, ids: ScalarSelect[int]) -> list[tuple[int, int, int, datetime]]:
    """(conversation, supporter, texts written, the first one's time): staff-written texts
    only, not the system's."""
    rows = session.execute(
        select(
            Message.conversation_id,
            Message.author_id,
            func.count(Message.id),
            func.min(Message.created_at),
        )
        .where(
            Message.conversation_id.in_(ids),
            Message.direction == "out",
            Message.author_id.is_not(None),
        )
        .group_by(Message.conversation_id, Message.author_id)
    )
    return [(c, a, n, at) for c, a, n, at in rows if c is not None and a is not None]


def _events(session: Session, ids: ScalarSelect[int]) -> list[EventFact]:
    rows = session.execute(
        select(
            ConversationEvent.conversation_id,
            ConversationEvent.kind,
            ConversationEvent.created_at,
            ConversationEvent.supporter_id,
            ConversationEvent.detail,
        )
        .where(
            ConversationEvent.conversation_id.in_(ids),
            ConversationEvent.kind.in_(EVENT_KINDS),
        )
        .order_by(ConversationEvent.created_at, ConversationEvent.id)
    )
    return [
        EventFact(convo_id, kind, at, supporter, _rule(kind, detail))
        for convo_id, kind, at, supporter, detail in rows
    ]


def _rule(kind: str, detail: object) -> str | None:
    """The handoff rule a return to the queue recorded ("offline", "quiet", ...)."""
    if kind != "handed_off" or not isinstance(detail, dict):
        return None
    rule = detail.get("rule")
    return str(rule) if rule is not None else None


# The page's tables, which are also its CSV files: cells are numbers, text, or None (no data).
Cell = int | float | str | None


@dataclass(frozen=True)
class Table:
    name: str  # the CSV file's name, without .csv
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    durations: frozenset[int] = frozenset()  # columns holding seconds


TABLES = (
    "daily",
    "weekly",
    "handoffs-daily",
    "handoffs-weekly",
    "feedback-daily",
    "feedback-weekly",
    "supporters",
)
REASON_LABELS = {
    "offline": "went offline",
    "shift_end": "shift ended",
    "shift_end_offer": "shift ended (warm offer)",
    "needs_skill": "needed a skill",
    "no_first_reply": "no first reply",
    "quiet": "went quiet",
    "offer_expired": "offer not accepted",
    "transfer": "transferred",
}
FIGURE_HEADERS = [
    "first day",
    "last day",
    "hours",
    "conversations",
    "texters",
    "answered",
    "first reply median (s)",
    "first reply 90th percentile (s)",
    "abandoned",
    "urgent",
    "urgent waited",
    "urgent wait median (s)",
    "urgent wait 90th percentile (s)",
    "handoffs",
]


def tables(result: Report, names: dict[int, str]) -> dict[str, Table]:
    """Every table of the page, keyed by its CSV name."""
    seconds = frozenset({6, 7, 11, 12})
    return {
        "daily": Table("daily", "Per day", FIGURE_HEADERS, _rows(result.days), seconds),
        "weekly": Table("weekly", "Per week", FIGURE_HEADERS, _rows(result.weeks), seconds),
        "handoffs-daily": _handoffs("handoffs-daily", "Handoffs per day", result, result.days),
        "handoffs-weekly": _handoffs("handoffs-weekly", "Handoffs per week", result, result.weeks),
        "feedback-daily": _feedback("feedback-daily", "Feedback per day", result.days),
        "feedback-weekly": _feedback("feedback-weekly", "Feedback per week", result.weeks),
        "supporters": Table(
            "supporters",
            "Per supporter",
            ["supporter id", "supporter", "conversations", "replies", "time active (s)"],
            [_load_row(s, names) for s in result.supporters],
            frozenset({4}),
        ),
    }


def _load_row(load: SupporterLoad, names: dict[int, str]) -> list[Cell]:
    name = names.get(load.supporter_id, "")
    return [load.supporter_id, name, load.conversations, load.replies, round(load.active_s)]


def _rows(periods: list[Figures]) -> list[list[Cell]]:
    return [_figure_row(f) for f in periods]


def _figure_row(f: Figures) -> list[Cell]:
    return [
        f.period.first.isoformat(),
        f.period.last.isoformat(),
        round(f.period.hours),
        f.conversations,
        f.texters,
        f.answered,
        _seconds(f.first_reply_median_s),
        _seconds(f.first_reply_p90_s),
        f.abandoned,
        f.urgent,
        f.urgent_waited,
        _seconds(f.urgent_wait_median_s),
        _seconds(f.urgent_wait_p90_s),
        f.handoff_total,
    ]


def _handoffs(name: str, title: str, result: Report, periods: list[Figures]) -> Table:
    reasons = result.handoff_reasons
    headers = ["first day", "last day", *(REASON_LABELS.get(r, r) for r in reasons), "total"]
    rows: list[list[Cell]] = []
    for f in periods:
        counts: list[Cell] = [f.handoffs.get(r, 0) for r in reasons]
        rows.append(
            [f.period.first.isoformat(), f.period.last.isoformat(), *counts, f.handoff_total]
        )
    return Table(name, title, headers, rows)


FEEDBACK_HEADERS = ["first day", "last day", "surveys sent", "answered", "mean score (1-5)"]


def _feedback(name: str, title: str, periods: list[Figures]) -> Table:
    """Survey answers and how conversations ended, by the period they opened in."""
    headers = [*FEEDBACK_HEADERS, *(f"outcome: {label}" for label in OUTCOMES.values())]
    rows: list[list[Cell]] = []
    for f in periods:
        mean = None if f.survey_mean is None else round(f.survey_mean, 2)
        rows.append(
            [
                f.period.first.isoformat(),
                f.period.last.isoformat(),
                f.surveys_sent,
                f.surveys_answered,
                mean,
                *(f.outcomes.get(slug, 0) for slug in OUTCOMES),
            ]
        )
    return Table(name, title, headers, rows)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def supporter_names(session: Session, result: Report) -> dict[int, str]:
    ids = [s.supporter_id for s in result.supporters]
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {id_: name for id_, name in rows}


# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(table: Table) -> str:
    """The table as CSV with a header row; text that a spreadsheet would take for a formula
    gets a leading apostrophe, and no data is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe(h) for h in table.headers])
    for row in table.rows:
        writer.writerow(["" if cell is None else _safe(cell) for cell in row])
    return out.getvalue()


def _safe(cell: Cell) -> Cell:
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
