"""Coverage of a week: shift occurrences and past conversations in, routing.coverage decides."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.models import Conversation, User
from helpline.services import settings as settings_service
from helpline.services.shifts import Occurrence, list_occurrences
from helpline.services.snapshots import Load, supporter
from routing.coverage import HourCoverage, Staffing, expected_demand, week_coverage
from routing.eligibility import current_skills
from routing.triage import CRISIS_SKILL

DEMAND_WEEKS = 4


def helpline_zone(session: Session) -> str:
    return str(settings_service.load(session)["helpline_timezone"])


def week_bounds(monday: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    begin = datetime.combine(monday, time(0), tz).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(0), tz).astimezone(UTC)
    return begin, end


def week_occurrences(session: Session, monday: date, zone: str) -> list[Occurrence]:
    return list_occurrences(session, *week_bounds(monday, zone))


def coverage_for_week(
    session: Session, monday: date, zone: str, now: datetime, occurs: list[Occurrence]
) -> list[HourCoverage]:
    """Each local hour of the week: capacity and crisis cover from shifts of active users,
    against demand learned from the last few weeks' conversations before `now`."""
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for o in occurs:
        spans[o.supporter_id].append((o.starts_at, o.ends_at))
    people = session.scalars(select(User).where(User.is_active, User.id.in_(list(spans))))
    staff = [_staffing(u, spans[u.id], now) for u in people]
    since = now - timedelta(weeks=DEMAND_WEEKS)
    starts = session.scalars(
        select(Conversation.created_at).where(
            Conversation.created_at >= since, Conversation.created_at < now
        )
    ).all()
    first = session.scalar(select(func.min(Conversation.created_at)))
    demand = expected_demand(starts, now, zone, DEMAND_WEEKS, history_start=first)
    return week_coverage(monday, zone, staff, demand)


def _staffing(user: User, spans: list[tuple[datetime, datetime]], now: datetime) -> Staffing:
    skills = current_skills(supporter(user, Load(), []), now)
    return Staffing(user.id, user.max_conversations, CRISIS_SKILL in skills, tuple(spans))
