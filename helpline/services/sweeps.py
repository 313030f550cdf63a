"""Work stored in the database but not finished: found by the periodic sweep and re-driven."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import Message
from helpline.services import intake, outbound

# A text still unprocessed (or unsent) this long after it was stored has lost its job.
STRANDED_AFTER_S = 30


# A send claimed this long ago with no outcome lost its worker mid-send: ask Twilio.
UNRESOLVED_AFTER_S = 300


@dataclass(frozen=True)
class Stranded:
    inbound: list[int]
    outbound: list[int]
    unresolved: list[int]


def stranded(session: Session, older_than: datetime) -> Stranded:
    """Inbound texts never processed, and outbound texts never claimed, older than `older_than`."""
    unsent = session.scalars(
        select(Message.id)
        .where(
            Message.direction == "out",
            Message.delivery_status == "pending",
            Message.send_claimed_at.is_(None),
            Message.created_at < older_than,
        )
        .order_by(Message.id)
        .limit(500)
    )
    return Stranded(
        inbound=intake.unprocessed(session, older_than),
        outbound=list(unsent),
        unresolved=outbound.unresolved(
            session, older_than - timedelta(seconds=UNRESOLVED_AFTER_S - STRANDED_AFTER_S)
        ),
    )
