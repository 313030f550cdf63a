"""Fixtures on real parts: a real database (SQLite file, or PostgreSQL with TEST_DATABASE_URL),
a real Redis (embedded, or TEST_REDIS_URL), and a fake Twilio API over real HTTP."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from helpline.app import create_app
from helpline.config import Settings, parse_send_rates
from helpline.db import Base, get_engine, session_factory
from helpline.devredis import EmbeddedRedis
from helpline.migrate import upgrade
from tests.fakes.twilio_api import FakeTwilio, FakeTwilioServer
from tests.support import Helpline
from workers import runtime

PUBLIC_URL = "http://helpline.test"
# Tests text through long codes far faster than Twilio's 1 a second; tests of pacing use
# toll-free numbers at Twilio's real rate. Worker processes the tests start inherit this.
os.environ.setdefault("TWILIO_SEND_RATES", "long_code=1000")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = os.environ.get("TEST_DATABASE_URL")
    if not configured:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        url = Settings.from_env({"DATABASE_URL": configured}).database_url
        with get_engine(url).begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield configured
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture(scope="session")
def migrated(
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    twilio_server: FakeTwilioServer,
) -> Settings:
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key",
        public_url=PUBLIC_URL,
        twilio_account_sid=twilio_server.fake.account_sid,
        twilio_auth_token=twilio_server.fake.auth_token,
        twilio_api_base_url=twilio_server.base_url,
        instance_path=Path(tmp_path_factory.mktemp("instance")),
        send_rates=parse_send_rates(os.environ["TWILIO_SEND_RATES"]),
    )
    upgrade(settings)
    return settings


@pytest.fixture
def settings(migrated: Settings) -> Iterator[Settings]:
    """Settings for one test, on an emptied database and Redis."""
    empty_database(migrated.database_url)
    Redis.from_url(migrated.redis_url).flushdb()
    runtime.configure(migrated)
    yield migrated


def empty_database(url: str) -> None:
    """Empty every table, the append-only audit log too: its guard triggers are bypassed here,
    in tests only (on PostgreSQL as replica, on SQLite by dropping and recreating them).

    A web process a browser test left running may still be answering a page's last request:
    its reads and the TRUNCATE can deadlock (PostgreSQL then cancels one); try again."""
    for attempt in range(5):
        try:
            return _empty_database(url)
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)


def _empty_database(url: str) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with get_engine(url).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        triggers = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, _ in triggers:
            connection.execute(text(f"DROP TRIGGER {name}"))
        for table in tables:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("DELETE FROM sqlite_sequence"))  # as RESTART IDENTITY does
        for _, sql in triggers:
            connection.execute(text(sql))


@pytest.fixture
def fake_twilio(twilio_server: FakeTwilioServer, settings: Settings) -> FakeTwilio:
    twilio_server.fake.reset()
    return twilio_server.fake


@pytest.fixture
def app(settings: Settings, fake_twilio: FakeTwilio) -> Iterator[Flask]:
    app = create_app(settings, TESTING=True)
    yield app
    # Closed now: collected later with the app, its sockets could be finalized first, and
    # their ResourceWarning fails whichever test is running then.
    app.extensions["helpline"].redis.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    session = session_factory(settings.database_url, writes=False)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def helpline(
    app: Flask, client: FlaskClient, db: Session, settings: Settings, fake_twilio: FakeTwilio
) -> Helpline:
    return Helpline(app, client, db, settings, fake_twilio)
