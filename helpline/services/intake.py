"""Inbound texts as Twilio delivers them: stored once per MessageSid, before anything else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import BigInteger, Connection, bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from helpline import vault
from helpline.db import insert_ignoring_conflicts, is_postgresql
from helpline.models import Message

MAX_BODY = (
    10_000  # Twilio concatenates at most 1,600 characters; anything far beyond is not Twilio.
)
MAX_MEDIA = 10  # Twilio attaches at most 10 media to one message
_SID = re.compile(r"^[A-Za-z]{2}[0-9a-fA-F]{32}$")
ADDRESS_PATTERN = r"^(whatsapp:|messenger:)?\+?[0-9A-Za-z .()-]{2,40}$"
_ADDRESS = re.compile(ADDRESS_PATTERN)


class InvalidInbound(ValueError):
    """The webhook's form is not a message we can store; the text says what is wrong."""


@dataclass(frozen=True)
class Inbound:
    sid: str
    from_address: str
    to_address: str
    body: str
    num_media: int

    @cached_property
    def texter_key(self) -> str:
        """The blind index of the texter's address: how their rows are found."""
        return vault.index(self.from_address)


def is_address(value: str) -> bool:
    """A phone number or a channel address as Twilio writes them (`whatsapp:+44…`)."""
    return bool(_ADDRESS.fullmatch(value))


def parse(form: dict[str, str]) -> Inbound:
    """Check Twilio's inbound parameters; raise InvalidInbound with a short reason."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not is_message_sid(sid):
        raise InvalidInbound("MessageSid missing or malformed")
    from_address = form.get("From", "").strip()
    to_address = form.get("To", "").strip()
    if not _ADDRESS.fullmatch(from_address):
        raise InvalidInbound("From missing or malformed")
    if not _ADDRESS.fullmatch(to_address):
        raise InvalidInbound("To missing or malformed")
    body = form.get("Body", "")
    if len(body) > MAX_BODY:
        raise InvalidInbound(f"Body longer than {MAX_BODY} characters")
    if "\x00" in body:
        raise InvalidInbound("Body contains a NUL character")
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise InvalidInbound("NumMedia is not a number") from exc
    return Inbound(sid, from_address, to_address, body, min(max(num_media, 0), MAX_MEDIA))


def is_message_sid(sid: str) -> bool:
    """Twilio's message SIDs: two letters (SM, MM) and 32 hex digits; nothing else is stored."""
    return _SID.fullmatch(sid) is not None


def store(db: Session | Connection, inbound: Inbound, now: datetime) -> int:
    """Store the text unless its MessageSid is stored already; return the row's id either way.

    One statement. On PostgreSQL it first takes a lock on the texter (a materialized CTE the
    insert reads from, so the lock is held before the id is drawn): one texter's texts are
    stored one at a time, so their ids follow commit order and a worker that sees a text also
    sees every earlier one (SQLite writers queue anyway). Run on an autocommit connection it
    is its own transaction: one round trip.
    """
    row = {
        "sid": inbound.sid,
        "direction": "in",
        "body": inbound.body,
        "from_address": inbound.from_address,
        "to_address": inbound.to_address,
        "texter_key": inbound.texter_key,
        "num_media": inbound.num_media,
        "delivery_status": "received",
        "created_at": now,
        "lock_key": int(inbound.texter_key[:15], 16),
    }
    stored = db.scalar(_store_statement(db), row)
    if stored is not None:
        return int(stored)
    # A redelivery: the row is there already (the only case that costs a second statement).
    message_id = db.scalar(select(Message.id).where(Message.sid == inbound.sid))
    assert message_id is not None
    return message_id


_STORED_COLUMNS = (
    "sid",
    "direction",
    "body",
    "from_address",
    "to_address",
    "texter_key",
    "num_media",
    "delivery_status",
    "created_at",
)
_store_statements: dict[bool, ReturningInsert[tuple[int]]] = {}


def _store_statement(db: Session | Connection) -> ReturningInsert[tuple[int]]:
    """`store`'s statement, built once for each kind of database: only its parameters change
    from one text to the next (building it again cost a fifth of the webhook's time)."""
    postgresql = is_postgresql(db)
    if postgresql not in _store_statements:
        table = Message.__table__
        values = [bindparam(name, type_=table.c[name].type) for name in _STORED_COLUMNS]
        statement = insert_ignoring_conflicts(db, table, ["sid"])
        if postgresql:
            locked = func.pg_advisory_xact_lock(bindparam("lock_key", type_=BigInteger))
            lock = select(locked).cte("texter_lock").prefix_with("MATERIALIZED")
            statement = statement.from_select(
                list(_STORED_COLUMNS), select(*values).select_from(lock)
            )
        else:
            statement = statement.values(dict(zip(_STORED_COLUMNS, values, strict=True)))
        _store_statements[postgresql] = statement.returning(table.c.id)
    return _store_statements[postgresql]


def store_missing(session: Session, received: list[Inbound], now: datetime) -> list[int]:
    """Store texts not stored yet (a webhook Twilio never delivered); their new ids."""
    sids = [r.sid for r in received]
    known = (
        set(session.scalars(select(Message.sid).where(Message.sid.in_(sids)))) if sids else set()
    )
    missing = [r for r in received if r.sid not in known]
    return [store(session, inbound, now) for inbound in missing]


def unprocessed(session: Session, older_than: datetime, limit: int = 500) -> list[int]:
    """Inbound texts stored but not processed by `older_than`: the sweep re-queues them."""
    return list(
        session.scalars(
            select(Message.id)
            .where(
                Message.processed_at.is_(None),
                Message.direction == "in",
                Message.created_at < older_than,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )
