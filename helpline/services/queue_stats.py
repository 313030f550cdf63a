"""How many conversations wait, and for how long the longest has waited, by priority."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.models import Conversation

PRIORITIES = ("normal", "urgent")


@dataclass(frozen=True)
class QueueDepth:
    waiting: dict[str, int]
    longest_wait_s: dict[str, float]


def queue_depth(session: Session, now: datetime) -> QueueDepth:
    """Queued conversations per priority, and the longest current wait (0 when nobody waits)."""
    rows = session.execute(
        select(Conversation.priority, func.count(), func.min(Conversation.waiting_since))
        .where(Conversation.status == "queued")
        .group_by(Conversation.priority)
    ).all()
    waiting = dict.fromkeys(PRIORITIES, 0)
    longest = dict.fromkeys(PRIORITIES, 0.0)
    for priority, count, since in rows:
        waiting[priority] = count
        if since is not None:
            longest[priority] = max(0.0, (now - since).total_seconds())
    return QueueDepth(waiting, longest)
