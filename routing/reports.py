"""Reports: figures per local day and week for the conversations that opened in a range.

Every row describes a cohort: the conversations that opened (the texter's first text) on that
local calendar day or week, whenever their later events happened. Days are the helpline's
calendar days, so a day across a DST change lasts 23 or 25 hours; weeks run Monday to Sunday,
cut to the range. Durations are seconds; a median or percentile of nothing is None ("no
data"), never zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from math import floor
from zoneinfo import ZoneInfo

# Events that give a conversation a holder, or take it away (see `holder_after`).
GAINS = frozenset({"assigned", "handed_off", "transferred"})
LOSES = frozenset({"handed_off", "transferred", "closed", "reopened"})

# Handoffs by reason: the rule that sent a conversation back to the queue, a warm offer at a
# shift's end, or a person's transfer. Accepting or declining an offer is not another handoff.
HANDOFF_REASONS = (
    "offline",
    "shift_end",
    "shift_end_offer",
    "needs_skill",
    "no_first_reply",
    "quiet",
    "offer_expired",
    "transfer",
)


@dataclass(frozen=True)
class ConversationFact:
    """What a report needs to know about one conversation."""

    id: int
    texter_id: int
    opened_at: datetime  # the texter's first text
    closed: bool  # closed now
    urgent_since: datetime | None  # None: never urgent
    first_reply_at: datetime | None  # the first text any supporter wrote in it
    outcome: str | None = None  # how it ended, as the supporter tagged it when closing
    survey_sent: bool = False  # the texter was asked the program's survey question
    survey_score: int | None = None  # their answer, 1 to 5


@dataclass(frozen=True)
class EventFact:
    """One routing event; `rule` is the handoff rule of a return to the queue (else None)."""

    conversation_id: int
    kind: str
    at: datetime
    supporter_id: int | None = None
    rule: str | None = None


@dataclass(frozen=True)
class ReplyFact:
    """How many texts one supporter wrote in one conversation."""

    conversation_id: int
    supporter_id: int
    count: int


@dataclass(frozen=True)
class Period:
    """Local days `first`..`last` (inclusive) and their real span in UTC."""

    first: date
    last: date
    starts_at: datetime
    ends_at: datetime

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


@dataclass(frozen=True)
class Figures:
    period: Period
    conversations: int = 0
    texters: int = 0
    answered: int = 0
    first_reply_median_s: float | None = None
    first_reply_p90_s: float | None = None
    abandoned: int = 0
    urgent: int = 0
    urgent_waited: int = 0
    urgent_wait_median_s: float | None = None
    urgent_wait_p90_s: float | None = None
    handoffs: Mapping[str, int] = field(default_factory=dict)
    outcomes: Mapping[str, int] = field(default_factory=dict)  # closed with each outcome tag
    surveys_sent: int = 0
    surveys_answered: int = 0
    survey_mean: float | None = None  # the mean score, 1 to 5; None: no answers

    @property
    def handoff_total(self) -> int:
        return sum(self.handoffs.values())


@dataclass(frozen=True)
class SupporterLoad:
    supporter_id: int
    conversations: int  # held at some point
    replies: int
    active_s: float  # time holding at least one conversation


@dataclass(frozen=True)
class Report:
    zone: str
    total: Figures
    days: list[Figures]
    weeks: list[Figures]
    supporters: list[SupporterLoad]
    handoff_reasons: list[str]  # the known reasons, then any others seen


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100), interpolating between the two nearest ranks (so the
    median of an even count is the mean of the middle two); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def day_period(day: date, zone: str) -> Period:
    """One local calendar day: 23, 24 or 25 real hours."""
    return days_period(day, day, zone)


def days_period(first: date, last: date, zone: str) -> Period:
    tz = ZoneInfo(zone)
    starts = datetime.combine(first, time(0), tz).astimezone(UTC)
    ends = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    return Period(first, last, starts, ends)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def week_periods(first: date, last: date, zone: str) -> list[Period]:
    """Monday-to-Sunday weeks touching `first`..`last`, each cut to the range."""
    periods = []
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        periods.append(days_period(max(monday, first), min(monday + timedelta(days=6), last), zone))
        monday += timedelta(days=7)
    return periods


def holder_after(holder: int | None, event: EventFact) -> int | None:
    """Who holds a conversation after `event`, given who held it before.

    A return to the queue records the supporter it left ("handed_off" with a rule, or a
    "transferred" naming the holder itself); an assignment names the new holder.
    """
    if event.kind == "assigned" or (event.kind == "handed_off" and event.rule is None):
        return event.supporter_id
    if event.kind == "transferred":
        return None if event.supporter_id in (None, holder) else event.supporter_id
    return None if event.kind in LOSES else holder


def handoff_reason(event: EventFact) -> str | None:
    """The reason a handoff event counts under, or None when it is not a handoff."""
    if event.kind == "handed_off" and event.rule is not None:
        return event.rule
    if event.kind == "offered":
        return "shift_end_offer"
    if event.kind == "transferred":
        return "transfer"
    return None


def holdings(events: Sequence[EventFact], as_of: datetime) -> list[tuple[int, datetime, datetime]]:
    """(supporter, from, until) for each time someone held the conversation; a holding
    still going ends at `as_of`."""
    spans = []
    holder: int | None = None
    since = as_of
    for event in events:
        after = holder_after(holder, event)
        if after != holder:
            if holder is not None:
                spans.append((holder, since, event.at))
            holder, since = after, event.at
    if holder is not None:
        spans.append((holder, since, max(since, as_of)))
    return spans


def urgent_wait_s(convo: ConversationFact, events: Sequence[EventFact]) -> float | None:
    """From becoming urgent to the next assignment, for a conversation that was waiting then
    (or was sent back to the queue by becoming urgent); None when it was already with a
    supporter, or never assigned."""
    if convo.urgent_since is None:
        return None
    start = convo.urgent_since
    holder: int | None = None
    for event in events:
        if event.at < start or (event.at == start and holder_after(holder, event) is None):
            holder = holder_after(holder, event)
    if holder is not None:
        return None
    for event in events:
        if event.at >= start and event.kind in GAINS and holder_after(None, event) is not None:
            return (event.at - start).total_seconds()
    return None


def has_been_held(events: Sequence[EventFact]) -> bool:
    holder: int | None = None
    for event in events:
        holder = holder_after(holder, event)
        if holder is not None:
            return True
    return False


def figures(
    period: Period,
    convos: Sequence[ConversationFact],
    events: Mapping[int, Sequence[EventFact]],
) -> Figures:
    """The figures for the conversations that opened in `period`."""
    mine = [c for c in convos if period.starts_at <= c.opened_at < period.ends_at]
    replies = [
        (c.first_reply_at - c.opened_at).total_seconds()
        for c in mine
        if c.first_reply_at is not None
    ]
    urgent = [c for c in mine if c.urgent_since is not None]
    waits = [w for c in urgent if (w := urgent_wait_s(c, events.get(c.id, ()))) is not None]
    reasons: Counter[str] = Counter(
        reason
        for c in mine
        for e in events.get(c.id, ())
        if (reason := handoff_reason(e)) is not None
    )
    scores = [c.survey_score for c in mine if c.survey_score is not None]
    return Figures(
        period=period,
        conversations=len(mine),
        texters=len({c.texter_id for c in mine}),
        answered=len(replies),
        first_reply_median_s=percentile(replies, 50),
        first_reply_p90_s=percentile(replies, 90),
        abandoned=sum(1 for c in mine if c.closed and not has_been_held(events.get(c.id, ()))),
        urgent=len(urgent),
        urgent_waited=len(waits),
        urgent_wait_median_s=percentile(waits, 50),
        urgent_wait_p90_s=percentile(waits, 90),
        handoffs=dict(reasons),
        outcomes=dict(Counter(c.outcome for c in mine if c.outcome is not None)),
        surveys_sent=sum(1 for c in mine if c.survey_sent),
        surveys_answered=len(scores),
        survey_mean=sum(scores) / len(scores) if scores else None,
    )


def supporter_loads(
    convos: Sequence[ConversationFact],
    events: Mapping[int, Sequence[EventFact]],
    replies: Sequence[ReplyFact],
    as_of: datetime,
) -> list[SupporterLoad]:
    """Per supporter: conversations held, texts written, and the time holding at least one
    (overlapping conversations count once)."""
    held: dict[int, set[int]] = defaultdict(set)
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for convo in convos:
        for supporter, begins, ends in holdings(events.get(convo.id, ()), as_of):
            held[supporter].add(convo.id)
            spans[supporter].append((begins, ends))
    written: Counter[int] = Counter()
    for reply in replies:
        written[reply.supporter_id] += reply.count
    return [
        SupporterLoad(s, len(held[s]), written[s], union_seconds(spans[s]))
        for s in sorted(held.keys() | written.keys())
    ]


def union_seconds(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """The length of the union of the spans."""
    total = 0.0
    end: datetime | None = None
    for begins, ends in sorted(spans):
        if end is not None and begins < end:
            begins = end
        if ends > begins:
            total += (ends - begins).total_seconds()
            end = ends if end is None else max(end, ends)
    return total


def build_report(
    convos: Sequence[ConversationFact],
    events: Sequence[EventFact],
    replies: Sequence[ReplyFact],
    zone: str,
    first: date,
    last: date,
    as_of: datetime,
) -> Report:
    """Every figure for local days `first`..`last`: per day, per week, the whole range, and
    per supporter. Facts outside the range are ignored."""
    whole = days_period(first, last, zone)
    convos = [c for c in convos if whole.starts_at <= c.opened_at < whole.ends_at]
    by_convo: dict[int, list[EventFact]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.at):
        by_convo[event.conversation_id].append(event)
    ids = {c.id for c in convos}
    by_day: dict[date, list[ConversationFact]] = defaultdict(list)
    for convo in convos:
        by_day[local_day(convo.opened_at, zone)].append(convo)

    def opened(period: Period) -> list[ConversationFact]:
        span = range((period.last - period.first).days + 1)
        return [c for n in span for c in by_day[period.first + timedelta(days=n)]]

    days = [day_period(first + timedelta(days=n), zone) for n in range((last - first).days + 1)]
    total = figures(whole, convos, by_convo)
    seen = sorted(set(total.handoffs) - set(HANDOFF_REASONS))
    return Report(
        zone=zone,
        total=total,
        days=[figures(p, opened(p), by_convo) for p in days],
        weeks=[figures(p, opened(p), by_convo) for p in week_periods(first, last, zone)],
        supporters=supporter_loads(
            convos, by_convo, [r for r in replies if r.conversation_id in ids], as_of
        ),
        handoff_reasons=[*HANDOFF_REASONS, *seen],
    )
