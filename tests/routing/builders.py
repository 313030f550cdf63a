"""Builders for routing's plain data, with defaults a test can override by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from routing.model import Conversation, ShiftRule, Supporter

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def shift(start: datetime = NOW - timedelta(hours=1), hours: float = 4, **kw: Any) -> ShiftRule:
    return ShiftRule(starts_at=start, ends_at=start + timedelta(hours=hours), **kw)


def supporter(id: int = 1, **kw: Any) -> Supporter:
    values: dict[str, Any] = {
        "name": f"Supporter {id}",
        "status": "available",
        "skills": frozenset(),
        "max_conversations": 3,
        "active_conversations": 0,
        "shifts": (shift(),),
    }
    values.update(kw)
    if isinstance(values["skills"], (set, list, tuple)):
        values["skills"] = frozenset(values["skills"])
    return Supporter(id=id, **values)


def conversation(id: int = 1, waited_min: float = 1, **kw: Any) -> Conversation:
    values: dict[str, Any] = {"priority": "normal", "required_skills": frozenset()}
    values.update(kw)
    if isinstance(values["required_skills"], (set, list, tuple)):
        values["required_skills"] = frozenset(values["required_skills"])
    return Conversation(id=id, waiting_since=NOW - timedelta(minutes=waited_min), **values)
