"""Inbound texts as Twilio delivers them: stored once per MessageSid, before anything else."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Integer,
    Text,
    bindparam,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.engine import Dialect
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
    """Store the text unless its MessageSid is stored already; return the row's id either way."""
    return store_all(db, [(inbound, now)])[0]


def store_all(
    db: Session | Connection,
    received: Sequence[tuple[Inbound, datetime]],
    ready: SqliteRows | None = None,
) -> list[int]:
    """Store the texts not stored yet (by MessageSid); each text's row id, in their order.

    On PostgreSQL one statement: it first takes a lock on each of the texts' texters, in key
    order (a materialized CTE the insert reads from, so the locks are held before any id is
    drawn), then inserts the texts in their order. One texter's texts are stored one at a
    time, so their ids follow commit order and a worker that sees a text also sees every
    earlier one (SQLite's writers queue anyway). Run on an autocommit connection it is its
    own transaction: one round trip for the batch. A lone text takes a statement of its own
    that does the same for one row (the arrays cost a lone webhook 0.15 ms more). On SQLite
    the texts go as one multi-row insert (`SqliteRows`: `ready` when the caller made them
    ready before its turn at writing). Only redelivered texts cost a second statement, which
    finds their rows.
    """
    if not is_postgresql(db):
        return (ready or SqliteRows.of(received, _dialect(db))).store(db)
    if len(received) == 1:
        rows = db.execute(_STORE_ONE_POSTGRESQL, _row(*received[0])).all()
    else:
        rows = db.execute(_STORE_ALL_POSTGRESQL, _columns(received)).all()
    stored = {sid: int(message_id) for message_id, sid in rows}
    return _with_redelivered(db, [inbound.sid for inbound, _ in received], stored)


def ready_to_store(
    received: Sequence[tuple[Inbound, datetime]], dialect: Dialect
) -> SqliteRows | None:
    """What a caller can make ready for `store_all` before its turn at writing: on SQLite the
    batch's rows; nothing on PostgreSQL, whose statement takes the texts as they are."""
    return None if dialect.name == "postgresql" else SqliteRows.of(received, dialect)


def _dialect(db: Session | Connection) -> Dialect:
    return db.dialect if isinstance(db, Connection) else db.get_bind().dialect


def _with_redelivered(
    db: Session | Connection, sids: list[str], stored: dict[str, int]
) -> list[int]:
    """The row ids of these texts, in their order: those just stored, and the rows already
    holding the ones the insert skipped (redelivered by Twilio)."""
    again = [sid for sid in sids if sid not in stored]
    if again:
        found = db.execute(select(Message.sid, Message.id).where(Message.sid.in_(again)))
        stored = stored | {sid: message_id for sid, message_id in found if sid}
    return [stored[sid] for sid in sids]


@dataclass(frozen=True)
class SqliteRows:
    """Texts ready for SQLite's insert: one INSERT … VALUES (…), (…) … RETURNING, its
    parameters already sealed and converted (by the columns' own types). The web processes
    take turns at SQLite's write lock (`sqlite_writer_turn`), and the one whose turn it is
    shares its interpreter with its other requests: made ready before the turn, the batch
    leaves only SQLite's own work inside it (docs/decisions.md, "The SQLite store's
    parameters are ready before the writer's turn")."""

    sids: list[str]
    statement: str
    parameters: tuple[object, ...]

    @classmethod
    def of(cls, received: Sequence[tuple[Inbound, datetime]], dialect: Dialect) -> SqliteRows:
        convert = _sqlite_converters(dialect)
        parameters = [
            row[name] if to_db is None else to_db(row[name])
            for row in (_row(inbound, now) for inbound, now in received)
            for name, to_db in zip(_ARRAYS, convert, strict=True)
        ]
        statement = _sqlite_insert(len(received))
        return cls([inbound.sid for inbound, _ in received], statement, tuple(parameters))

    def store(self, db: Session | Connection) -> list[int]:
        """Insert them (a statement of its own on an autocommit connection); their row ids."""
        connection = db if isinstance(db, Connection) else db.connection()
        rows = connection.exec_driver_sql(self.statement, self.parameters)
        return _with_redelivered(db, self.sids, {sid: int(message_id) for message_id, sid in rows})


@cache
def _sqlite_converters(dialect: Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
    return tuple(_MESSAGE[name].type.bind_processor(dialect) for name in _ARRAYS)


@cache
def _sqlite_insert(count: int) -> str:
    """The insert of `count` texts, in SQLite's words (`?` for each value)."""
    row = f"({', '.join('?' * len(_ARRAYS))}, 'in', 'received')"
    return (
        f"INSERT INTO messages ({', '.join(_ARRAYS)}, direction, delivery_status) "
        f"VALUES {', '.join([row] * count)} "
        "ON CONFLICT (sid) DO NOTHING RETURNING id, sid"
    )


def _row(inbound: Inbound, now: datetime) -> dict[str, object]:
    return {
        "lock_key": lock_key(inbound.texter_key),
        "sid": inbound.sid,
        "body": inbound.body,
        "from_address": inbound.from_address,
        "to_address": inbound.to_address,
        "texter_key": inbound.texter_key,
        "num_media": inbound.num_media,
        "created_at": now,
    }


def _columns(received: Sequence[tuple[Inbound, datetime]]) -> dict[str, list[object]]:
    """The texts as one array per column, and their texters' lock keys."""
    rows = [_row(inbound, now) for inbound, now in received]
    columns = {name: [row[name] for row in rows] for name in _ARRAYS}
    columns["lock_keys"] = [row["lock_key"] for row in rows]
    return columns


def lock_key(texter_key: str) -> int:
    """The texter's advisory lock on PostgreSQL (a bigint from their blind index)."""
    return int(texter_key[:15], 16)


_MESSAGE = Message.__table__.c
_ARRAYS = {
    "sid": Text(),
    "body": Text(),
    "from_address": _MESSAGE.from_address.type,
    "to_address": _MESSAGE.to_address.type,
    "texter_key": Text(),
    "num_media": Integer(),
    "created_at": _MESSAGE.created_at.type,
}
_STORE_ALL_POSTGRESQL = text(
    """
    WITH texter_locks AS MATERIALIZED (
        SELECT count(pg_advisory_xact_lock(key)) AS taken
        FROM (SELECT DISTINCT key FROM unnest(CAST(:lock_keys AS bigint[])) AS key ORDER BY key)
            AS texters
    )
    INSERT INTO messages (sid, direction, body, from_address, to_address, texter_key,
                          num_media, delivery_status, created_at)
    SELECT arrived.sid, 'in', arrived.body, arrived.from_address, arrived.to_address,
           arrived.texter_key, arrived.num_media, 'received', arrived.created_at
    FROM texter_locks, unnest(
        CAST(:sid AS text[]), CAST(:body AS text[]), CAST(:from_address AS text[]),
        CAST(:to_address AS text[]), CAST(:texter_key AS text[]),
        CAST(:num_media AS integer[]), CAST(:created_at AS timestamptz[])
    ) WITH ORDINALITY AS arrived (sid, body, from_address, to_address, texter_key, num_media,
                                  created_at, position)
    ORDER BY arrived.position
    ON CONFLICT (sid) DO NOTHING
    RETURNING id, sid
    """
).bindparams(
    bindparam("lock_keys", type_=ARRAY(BigInteger())),
    *(bindparam(name, type_=ARRAY(item)) for name, item in _ARRAYS.items()),
)


def _store_one() -> ReturningInsert[int, str]:
    """PostgreSQL's insert of one text, built once: only its parameters change from one text
    to the next (building it again cost a fifth of the webhook's time). It reads its row from
    a materialized CTE that takes the texter's lock."""
    table = Message.__table__
    values = {name: bindparam(name, type_=_MESSAGE[name].type) for name in _ARRAYS}
    values |= {"direction": literal("in"), "delivery_status": literal("received")}
    locked = func.pg_advisory_xact_lock(bindparam("lock_key", type_=BigInteger))
    lock = select(locked).cte("texter_lock").prefix_with("MATERIALIZED")
    statement = insert_ignoring_conflicts(True, table, ["sid"])
    statement = statement.from_select(list(values), select(*values.values()).select_from(lock))
    return statement.returning(table.c.id, table.c.sid)


_STORE_ONE_POSTGRESQL = _store_one()


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
