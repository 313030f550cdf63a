"""The one place that turns rows into routing's plain dataclasses."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Integer, Row, Select, Text, bindparam, case, cast, func, select, text
from sqlalchemy.orm import Session

from helpline import models
from helpline.db import is_postgresql
from routing import model
from routing.policy import SupporterOrder, supporter_order
from routing.schedule import is_on_shift


@dataclass(frozen=True)
class Load:
    count: int = 0
    weighted: int = 0


def loads(
    session: Session, urgent_weight: int = 2, supporter_ids: Sequence[int] | None = None
) -> dict[int, Load]:
    """Active conversations per supporter: how many, and weighted by intensity."""
    convo = models.Conversation
    weighted = func.sum(case((convo.priority == "urgent", urgent_weight), else_=1))
    query = (
        select(convo.supporter_id, func.count(), weighted)
        .where(convo.status == "active", convo.supporter_id.is_not(None))
        .group_by(convo.supporter_id)
    )
    if supporter_ids is not None:
        query = query.where(convo.supporter_id.in_(supporter_ids))
    found = {sid: Load(count, int(w)) for sid, count, w in session.execute(query)}
    # A warm handoff offered to someone holds a place in their limit until it is settled.
    offers = (
        select(convo.offered_to_id, func.count(), weighted)
        .where(convo.status == "active", convo.offered_to_id.is_not(None))
        .group_by(convo.offered_to_id)
    )
    if supporter_ids is not None:
        offers = offers.where(convo.offered_to_id.in_(supporter_ids))
    for sid, count, w in session.execute(offers):
        held = found.get(sid, Load())
        found[sid] = Load(held.count + count, held.weighted + int(w))
    return found


def active_counts(session: Session, supporter_ids: Sequence[int] | None = None) -> dict[int, int]:
    """How many active conversations each supporter holds right now."""
    return {sid: load.count for sid, load in loads(session, 1, supporter_ids).items()}


def shift_rules(shifts: Sequence[models.Shift]) -> tuple[model.ShiftRule, ...]:
    return tuple(
        model.ShiftRule(
            s.starts_at,
            s.ends_at,
            s.rrule,
            s.timezone,
            frozenset(datetime.fromisoformat(c) for c in s.cancelled or ()),
        )
        for s in shifts
    )


def supporters(
    session: Session, urgent_weight: int = 2, ids: Sequence[int] | None = None
) -> list[model.Supporter]:
    """Active users who could take a conversation: the available ones, or exactly `ids`."""
    query = select(models.User)
    if ids is None:
        query = query.where(models.User.is_active, models.User.status == "available")
    else:
        query = query.where(models.User.id.in_(ids))  # holders, deactivated ones included
    users = session.scalars(query).all()
    user_ids = [u.id for u in users]
    shifts: dict[int, list[models.Shift]] = defaultdict(list)
    if user_ids:
        for shift in session.scalars(
            select(models.Shift).where(models.Shift.supporter_id.in_(user_ids))
        ):
            shifts[shift.supporter_id].append(shift)
    found = loads(session, urgent_weight, user_ids)
    return [supporter(u, found.get(u.id, Load()), shifts[u.id]) for u in users]


@dataclass(frozen=True)
class Candidates:
    """The supporters a routing pass considers, and how many available ones it left out."""

    supporters: list[model.Supporter]
    at_limit: int
    off_shift: int
    # With a limit, where the supporters with room not read begin (`policy.supporter_order`);
    # None when every one was read.
    unseen_from: SupporterOrder | None = None

    def summary(self) -> str | None:
        """What the event log records about the available supporters left out, if any."""
        parts = []
        if self.at_limit:
            parts.append(f"{self.at_limit} at their limit")
        if self.off_shift:
            parts.append(f"{self.off_shift} not on shift (or inside the end-of-shift grace)")
        return "available supporters not considered: " + ", ".join(parts) if parts else None


def candidates(
    session: Session,
    now: datetime,
    grace: timedelta,
    urgent_weight: int = 2,
    limit: int | None = None,
    including: Collection[int] = (),
) -> Candidates:
    """The active, available supporters below their limit and on shift at `now`: the only
    ones a routing pass can give a conversation to. Read as plain columns, not ORM objects,
    through the partial index of those with room (their load is kept on their row by the
    database: migration 0018), so a pass costs what the free places cost, not the roster.

    With `limit`, only the first that many in `policy.supporter_order` (and those of
    `including` with room): a pass that places a few conversations reads a few supporters,
    however many are free (docs/decisions.md, "A pass reads the first free supporters")."""
    postgresql = is_postgresql(session)
    params: dict[str, Any] = {"extra_weight": urgent_weight - 1}
    unseen_from = None
    if limit is None:
        rows, shifts, tally = _with_shifts(session, _reading(postgresql, "all"), params)
    else:
        first = _reading(postgresql, "first")
        rows, shifts, tally = _with_shifts(session, first, params | {"limit": limit + 1})
        if len(rows) > limit:
            unseen_from = supporter_order(_supporter(rows[limit], ()))
            rows = rows[:limit]
        missing = set(including) - {row[0] for row in rows}
        if missing:
            these = _reading(postgresql, "these")
            more, more_shifts, _ = _with_shifts(session, these, params | {"ids": sorted(missing)})
            rows += more
            shifts.update(more_shifts)
    if tally is None:  # nobody has room: the counts came without a row
        tally = session.execute(_counts(postgresql), params).one()
    total, with_room_total = tally
    found = []
    for row in rows:
        rules = tuple(shifts[row[0]])
        if is_on_shift(rules, now, grace):
            found.append(_supporter(row, rules))
    at_limit = (total or 0) - (with_room_total or 0)
    return Candidates(found, at_limit, len(rows) - len(found), unseen_from)


# What `candidates` reads of a supporter, the load weighted by the urgent weight less one
# (`extra_weight`); and the two counts beside them: the available, and those with room.
def _weighted() -> Any:
    user = models.User
    return user.held_conversations + bindparam("extra_weight", type_=Integer) * user.held_urgent


def _with_room(postgresql: bool) -> tuple[Any, ...]:
    room = text(models.ROOM_PREDICATE.format(true="true" if postgresql else "1"))
    return (room, _weighted() < models.User.max_conversations)


@cache
def _counts(postgresql: bool) -> Select[Any]:
    user = models.User
    available = (user.is_active, user.status == "available")
    return select(
        select(func.count()).where(*available).scalar_subquery(),
        select(func.count()).where(*available, *_with_room(postgresql)).scalar_subquery(),
    )


_WIDTH = 9  # the supporter's columns, before their shift's


@cache
def _reading(postgresql: bool, which: str) -> Select[Any]:
    """The statement `candidates` reads with, built once for each database and each of its
    three readings: `all` the supporters with room; the `first` of them (`limit`), in
    `policy.supporter_order`; `these` (`ids`) if they have room. Each row is a supporter's
    columns joined to one of their shifts (a supporter's columns once for each); the first
    two readings have the counts beside them."""
    user = models.User
    weighted = _weighted()
    columns = (
        user.id,
        user.name,
        cast(user.skills, Text),
        user.max_conversations,
        user.last_assigned_at,
        cast(user.languages, Text),
        cast(user.skill_expiry, Text),
        user.held_conversations,
        weighted.label("weighted"),
    )
    query = select(*columns).where(*_with_room(postgresql))
    if which == "first":
        order = (weighted, user.held_conversations, user.last_assigned_at.nulls_first(), user.id)
        query = query.order_by(*order).limit(bindparam("limit"))
    elif which == "these":
        query = query.where(user.id.in_(bindparam("ids", expanding=True)))
    found = query.subquery()
    shift = models.Shift
    counts = () if which == "these" else tuple(_counts(postgresql).selected_columns)
    statement = select(
        found,
        shift.starts_at,
        shift.ends_at,
        shift.rrule,
        shift.timezone,
        cast(shift.cancelled, Text),
        *counts,
    ).outerjoin(shift, shift.supporter_id == found.c.id)
    if which == "first":
        c = found.c
        statement = statement.order_by(
            c.weighted, c.held_conversations, c.last_assigned_at.nulls_first(), c.id, shift.id
        )
    return statement


def _with_shifts(
    session: Session, statement: Select[Any], params: dict[str, Any]
) -> tuple[list[Row[Any]], dict[int, list[model.ShiftRule]], tuple[int, int] | None]:
    """The supporters a `_reading` reads and their shifts, in its order; and the counts
    beside them, as a pair, when it reads them and a row came."""
    rows: dict[int, Row[Any]] = {}
    shifts: dict[int, list[model.ShiftRule]] = defaultdict(list)
    tally = None
    for row in session.execute(statement, params):
        rows.setdefault(row[0], row[:_WIDTH])
        starts, ends, rrule, tz, cancelled = row[_WIDTH : _WIDTH + 5]
        if starts is not None:
            shifts[row[0]].append(model.ShiftRule(starts, ends, rrule, tz, _instants(cancelled)))
        if len(row) > _WIDTH + 5:
            tally = (int(row[_WIDTH + 5] or 0), int(row[_WIDTH + 6] or 0))
    return list(rows.values()), shifts, tally


def _supporter(row: Row[Any], rules: tuple[model.ShiftRule, ...]) -> model.Supporter:
    """A candidate from its row of `candidates`' columns."""
    sid, name, skills, limit, last, languages, expiry, count, weighted = row
    return model.Supporter(
        id=sid,
        name=name,
        status="available",
        skills=_names(skills),
        max_conversations=limit,
        active_conversations=int(count),
        load=int(weighted),
        shifts=rules,
        last_assigned_at=last,
        languages=_names(languages),
        skill_expiry=_expiries(expiry),
    )


# A routing pass reads every candidate's skills, languages and shifts. Their JSON is read as
# text and parsed once per distinct value (supporters share a few skill sets, most shifts
# cancel nothing), into values nothing can change: parsing it again for every candidate of
# every pass was a third of the pass's reading.
@lru_cache(maxsize=1024)
def _names(raw: str | None) -> frozenset[str]:
    return frozenset(json.loads(raw) or ()) if raw else frozenset()


@lru_cache(maxsize=1024)
def _expiries(raw: str | None) -> tuple[tuple[str, datetime], ...]:
    found = json.loads(raw) if raw else None
    return tuple((skill, datetime.fromisoformat(until)) for skill, until in (found or {}).items())


@lru_cache(maxsize=1024)
def _instants(raw: str | None) -> frozenset[datetime]:
    return frozenset(datetime.fromisoformat(c) for c in (json.loads(raw) if raw else None) or ())


def supporter(user: models.User, load: Load, shifts: Sequence[models.Shift]) -> model.Supporter:
    return model.Supporter(
        id=user.id,
        name=user.name,
        status=user.status if user.is_active else "offline",
        skills=frozenset(user.skills or ()),
        max_conversations=user.max_conversations,
        active_conversations=load.count,
        load=load.weighted,
        shifts=shift_rules(shifts),
        last_assigned_at=user.last_assigned_at,
        languages=frozenset(user.languages or ()),
        skill_expiry=tuple(
            (skill, datetime.fromisoformat(until))
            for skill, until in (user.skill_expiry or {}).items()
        ),
    )


def all_shift_rules(session: Session) -> tuple[model.ShiftRule, ...]:
    """Every active user's shifts: to know whether the line is staffed at all."""
    shifts = session.scalars(
        select(models.Shift).join(models.User).where(models.User.is_active)
    ).all()
    return shift_rules(shifts)


def conversation(row: models.Conversation) -> model.Conversation:
    assert row.waiting_since is not None, "a queued conversation always has waiting_since"
    return model.Conversation(
        id=row.id,
        priority=row.priority,
        waiting_since=row.waiting_since,
        required_skills=frozenset(row.required_skills or ()),
        language=row.language,
        previous_supporter_id=row.previous_supporter_id,
        excluded_supporter_ids=frozenset(row.excluded_supporter_ids or ()),
        urgent_since=row.urgent_since,
        limited=row.limited,
    )


def active_conversation(row: models.Conversation | Row[Any]) -> model.ActiveConversation:
    """A held conversation as the handoff rules see it, from its model or a row of its columns."""
    assert row.supporter_id is not None and row.assigned_at is not None
    return model.ActiveConversation(
        id=row.id,
        supporter_id=row.supporter_id,
        priority=row.priority,
        assigned_at=row.assigned_at,
        first_reply_at=row.first_reply_at,
        last_activity_at=row.last_activity_at or row.assigned_at,
        required_skills=frozenset(row.required_skills or ()),
        last_inbound_at=row.last_inbound_at,
        last_reply_at=row.last_reply_at,
        nudged_at=row.nudged_at,
        offered_to_id=row.offered_to_id,
        offered_at=row.offered_at,
    )


def active_conversations(
    session: Session, ids: list[int] | None = None
) -> list[model.ActiveConversation]:
    """Every conversation a supporter holds (or those of them with these ids), read as rows
    of the columns the handoff rules use: a tick reads them all, and as models they took
    most of its time."""
    c = models.Conversation
    columns = (
        c.id,
        c.supporter_id,
        c.priority,
        c.assigned_at,
        c.first_reply_at,
        c.last_activity_at,
        c.required_skills,
        c.last_inbound_at,
        c.last_reply_at,
        c.nudged_at,
        c.offered_to_id,
        c.offered_at,
    )
    held = select(*columns).where(c.status == "active", c.supporter_id.is_not(None))
    if ids is not None:
        held = held.where(c.id.in_(ids))
    return [active_conversation(row) for row in session.execute(held)]
