"""Per-request resources for the blueprints: the settings, a database session, Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from flask import Flask, current_app, g, has_request_context, request
from redis import Redis
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from helpline.config import Settings
from helpline.db import autocommit_engine, session_factory, sqlite_writer_turn
from helpline.live import notices
from helpline.models import utcnow


@dataclass
class Resources:
    settings: Settings
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    autocommit: Engine  # one statement, one transaction (helpline.db.autocommit_engine)
    redis: Redis


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["helpline"] = Resources(
        settings=settings,
        sessions=session_factory(settings.database_url),
        read_sessions=session_factory(settings.database_url, writes=False),
        autocommit=autocommit_engine(settings.database_url),
        # Short timeouts: a webhook must answer even when Redis does not.
        redis=Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
    )
    app.teardown_appcontext(close_db)


def resources() -> Resources:
    return cast(Resources, current_app.extensions["helpline"])


def settings() -> Settings:
    return resources().settings


def db() -> Session:
    """This request's session; closed (and rolled back unless committed) on teardown.

    GET and HEAD requests only read, so they get a session that takes no write lock. What
    the others commit is told to the supporters it concerns (live.notices).
    """
    if "db" not in g:
        if has_request_context() and request.method in ("GET", "HEAD"):
            g.db = resources().read_sessions()
        else:
            g.db = resources().sessions()
            notices.watch(g.db, redis())
    return cast(Session, g.db)


@contextmanager
def own_transaction(resources: Resources) -> Iterator[Connection]:
    """A connection for one write statement that is its own transaction, committed as it
    returns (`helpline.db.autocommit_engine`); on SQLite the web processes take turns at it
    (`sqlite_writer_turn`), the connection taken from the pool before the turn begins. No
    session, no live notices: for rows nobody's inbox shows."""
    url = resources.settings.database_url
    with resources.autocommit.connect() as connection, sqlite_writer_turn(url):
        yield connection


def redis() -> Redis:
    return resources().redis


def now() -> datetime:
    return utcnow()


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
