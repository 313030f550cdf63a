"""The database: declarative base, engines and sessions.

Every difference between SQLite (the embedded default) and PostgreSQL lives here.
"""

from __future__ import annotations

import fcntl
import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.dml import Insert

T = TypeVar("T")


class Base(DeclarativeBase):
    pass


MAX_INTEGER = 2**31 - 1  # ids and counts are `integer` columns: PostgreSQL's is 32 bits


# Connections kept open per process, and how many more a burst may open (and close again). A
# web process serves up to 32 requests at once (helpline.config.DEFAULT_WEB_THREADS): with
# fewer kept, a busy minute opened and closed a connection for many of its requests, and
# opening one costs PostgreSQL a new process. The pool opens them only as they are needed.
POOL = {"pool_size": 16, "max_overflow": 16}

# A connection that has sat unused in the pool this long is pinged (one round trip) before it
# is lent; one back from use more recently is lent as it is.
PING_AFTER_IDLE_S = 1.0

_engines: dict[tuple[str, str], tuple[int, Engine]] = {}


def get_engine(url: str, writes: bool = True) -> Engine:
    """One engine per URL per process; a forked child gets its own pool.

    `writes=False` is for read-only work (GET requests, tests' looking around): on SQLite its
    transactions do not take the write lock. PostgreSQL needs no such distinction.
    """
    return _engine(url, "reads" if url.startswith("sqlite") and not writes else "writes")


def _engine(url: str, kind: str) -> Engine:
    key = (url, kind)
    pid = os.getpid()
    cached = _engines.get(key)
    if cached and cached[0] == pid:
        return cached[1]
    engine = _make_engine(url, kind)
    _engines[key] = (pid, engine)
    return engine


def _make_engine(url: str, kind: str) -> Engine:
    # Statement parameters hold texters' numbers and texts: never put them in an error's
    # message, where they would reach a log line or RQ's failed-job record in Redis.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **POOL)
        begin = {"reads": "BEGIN", "autocommit": None}.get(kind, "BEGIN IMMEDIATE")
        _configure_sqlite(engine, begin)
        return engine
    options = {"isolation_level": "AUTOCOMMIT"} if kind == "autocommit" else {}
    engine = create_engine(
        url, hide_parameters=True, paramstyle="numeric_dollar", **POOL, **options
    )
    _native_placeholders(engine)
    _ping_when_idle(engine)
    return engine


def _native_placeholders(engine: Engine) -> None:
    """Statements reach PostgreSQL with its own placeholders ($1, $2), as SQLAlchemy writes
    them (`paramstyle="numeric_dollar"`), through psycopg's RawCursor, which sends them as
    they are.

    psycopg's usual cursor rewrites `%(name)s` placeholders into `$n` with a regular
    expression, and remembers the result only for statements of up to 50 parameters: a
    batch's multi-row inserts (fifty conversations, their events, their texts) were parsed
    again every time, a seventh of a worker's CPU under load (BENCHMARKS.md, the twelfth
    round)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory = psycopg.RawCursor


def _ping_when_idle(engine: Engine) -> None:
    """Check a connection before lending it only when it has sat unused for a while.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip for every request and
    every job's transaction, most of them on a connection used a moment before. A connection
    the database closed less than PING_AFTER_IDLE_S after its last use (a restart, a
    failover) fails its statement instead; SQLAlchemy then drops every connection the pool
    holds, so only the work already under way fails (a job is retried, the webhook's store
    runs again: `retrying_once`).
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_S:
            return  # a new connection, or one used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("connection closed while it sat in the pool") from exc


# SQLite copies the write-ahead log into the database (a checkpoint) when a commit leaves the
# log longer than this many pages: 16 MB, not SQLite's 4. The commit that crosses it pays,
# inside a web process's turn at writing, with the other web process waiting for the turn,
# and the webhooks' commits rewrite the same few pages (each table's and index's newest),
# which a checkpoint copies once however often they were written. A quarter as many
# checkpoints: the SQLite webhook answers a fifth more texts a second; a longer log gained
# little more, and its longer checkpoints held every webhook waiting behind them
# (docs/decisions.md, "SQLite checkpoints every 4,000 pages of log").
WAL_CHECKPOINT_PAGES = 4_000


def _configure_sqlite(engine: Engine, begin: str | None) -> None:
    """WAL (checkpointed every WAL_CHECKPOINT_PAGES), foreign keys, and for writers BEGIN
    IMMEDIATE: two writers queue up on the lock (busy_timeout) instead of failing when one
    upgrades a read to a write. Without `begin`, each statement is its own transaction, as
    SQLite runs a statement outside BEGIN.

    pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN is ours.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.close()

    if begin is None:
        return

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def autocommit_engine(url: str) -> Engine:
    """An engine whose statements are each their own transaction, for a write that is one
    statement (the inbound webhook's insert, an audit entry): on PostgreSQL no BEGIN or
    COMMIT, one round trip; on SQLite one call into it instead of three (BEGIN IMMEDIATE,
    the statement, COMMIT), each of which gives up the interpreter lock and waits to take it
    back while the database's write lock is held. SQLite's writers still take turns
    (`sqlite_writer_turn`)."""
    return _engine(url, "autocommit")


@contextmanager
def sqlite_writer_turn(url: str) -> Iterator[None]:
    """On SQLite, a turn at writing among the processes that ask for one here: an exclusive
    lock on a file beside the database, held until the block ends (nothing on PostgreSQL).

    SQLite's own waiters for its write lock sleep and try again, longer each time, up to
    100 ms a try (busy_timeout): two web processes storing texts in turn each left the other
    asleep for most of its turn. A process waiting here wakes the moment the lock is let go.
    """
    path = _writer_lock(url)
    if path is None:
        yield
        return
    # Opened for each turn, never inherited: a lock on a descriptor shared across a fork
    # would be held by both processes at once.
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # lets the lock go


@functools.cache
def _writer_lock(url: str) -> str | None:
    """The file whose lock is a turn at writing to the SQLite database at `url`, if any."""
    database = make_url(url).database
    if not url.startswith("sqlite") or not database or database == ":memory:":
        return None
    return f"{database}.writer-lock"


def retrying_once(work: Callable[[], T]) -> T:
    """`work()`, run a second time when the first found its pooled connection dead (the
    database restarted since it was opened). Only for work that may safely run twice."""
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return work()


def session_factory(url: str, writes: bool = True) -> sessionmaker[Session]:
    """One factory per engine: making one costs more than the session it makes, and a job
    asks for one every transaction."""
    engine = get_engine(url, writes)
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories[engine] = sessionmaker(bind=engine, expire_on_commit=False)
    return factory


_factories: dict[Engine, sessionmaker[Session]] = {}


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back otherwise."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignoring_conflicts(on_postgresql: bool, table: Any, index_elements: list[str]) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING in PostgreSQL's dialect, or else SQLite's."""
    builder = postgresql.insert if on_postgresql else sqlite.insert
    return builder(table).on_conflict_do_nothing(index_elements=index_elements)


def is_postgresql(db: Session | Connection) -> bool:
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    return dialect.name == "postgresql"
