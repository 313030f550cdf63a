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
    cancelled: frozenset[datetime] = frozenset()  # starts of occurrences that will not happen


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
    languages: frozenset[str] = frozenset()
    # Skills whose training lapses: skill -> the moment it stops counting.
    skill_expiry: tuple[tuple[str, datetime], ...] = ()
    # Active conversations weighted by intensity (an urgent one counts `urgent_weight`).
    load: int | None = None

    @property
    def weighted_load(self) -> int:
        return self.active_conversations if self.load is None else self.load


@dataclass(frozen=True)
class Conversation:
    id: int
    priority: str
    waiting_since: datetime
    required_skills: frozenset[str] = frozenset()
    language: str | None = None
    previous_supporter_id: int | None = None
    excluded_supporter_ids: frozenset[int] = frozenset()
    urgent_since: datetime | None = None
    limited: bool = False  # the flood policy: served after everyone else of its priority


@dataclass(frozen=True)
class ActiveConversation:
    """A conversation a supporter holds, as the handoff rules see it."""

    id: int
    supporter_id: int
    priority: str
    assigned_at: datetime
    first_reply_at: datetime | None
    last_activity_at: datetime
    required_skills: frozenset[str] = frozenset()
    last_inbound_at: datetime | None = None
    last_reply_at: datetime | None = None
    nudged_at: datetime | None = None
    offered_to_id: int | None = None
    offered_at: datetime | None = None


@dataclass(frozen=True)
class RoutingSettings:
    shift_end_grace_s: int = 300
    first_response_timeout_s: int = 180
    inactivity_close_s: int = 3600
    urgent_weight: int = 2
    # After this long with no crisis-trained supporter free, an urgent texter is offered to
    # any eligible supporter (and coordinators are alerted).
    crisis_fallback_s: int = 120
    # A supporter quiet this long after the texter's last text is nudged, then it moves on.
    quiet_nudge_s: int = 300
    quiet_handoff_s: int = 600
    # A warm handoff offered but not accepted this long goes back to the queue instead.
    offer_timeout_s: int = 120


@dataclass(frozen=True)
class Assign:
    conversation_id: int
    supporter_id: int
    reason: str
    passed_over: dict[int, str] = field(default_factory=dict)
    # Skills required but waived for this assignment (the crisis fallback).
    waived: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Wait:
    conversation_id: int
    reason: str
    passed_over: dict[int, str] = field(default_factory=dict)


Decision = Assign | Wait


@dataclass(frozen=True)
class Handoff:
    """Take a conversation from its supporter and put it back at the front of the queue."""

    conversation_id: int
    supporter_id: int
    kind: str  # shift_end | offline | no_first_reply | needs_skill | quiet | offer_expired
    reason: str
    # Warm: offer it to the next supporter first; the holder keeps it until they accept.
    warm: bool = False


@dataclass(frozen=True)
class Nudge:
    """Remind a supporter that their texter is waiting for a reply."""

    conversation_id: int
    supporter_id: int
    reason: str


@dataclass(frozen=True)
class Close:
    conversation_id: int
    reason: str
