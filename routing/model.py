"""The plain data routing decides over, and the decisions it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ShiftRule:
    """A shift as stored: the first occurrence, optionally repeated by an RFC 5545 RRULE."""

    starts_at: datetime
    ends_at: datetime
    rrule: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Supporter:
    id: int
    name: str
    status: str
    skills: frozenset[str]
    max_conversations: int
    active_conversations: int
    shifts: tuple[ShiftRule, ...] = ()
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class Conversation:
    id: int
    priority: str
    waiting_since: datetime
    required_skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoutingSettings:
    shift_end_grace_s: int = 300


@dataclass(frozen=True)
class Assign:
    conversation_id: int
    supporter_id: int
    reason: str
    passed_over: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    conversation_id: int
    reason: str
    passed_over: dict[int, str] = field(default_factory=dict)


Decision = Assign | Wait
