"""Pooled connections: checked only after sitting idle, and replaced when found closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from helpline import db
from helpline.config import Settings


def _backend(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(settings: Settings, backend: int) -> None:
    outside = create_engine(settings.database_url, poolclass=NullPool)
    with outside.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    outside.dispose()


@pytest.mark.postgres
def test_a_connection_closed_while_idle_is_replaced_before_it_is_lent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every connection counts as idle
    engine = db.get_engine(settings.database_url)
    engine.dispose()
    closed = _backend(engine)
    _terminate(settings, closed)
    assert _backend(engine) != closed  # pinged, found closed, replaced: no error


@pytest.mark.postgres
def test_a_connection_used_a_moment_ago_is_lent_unchecked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No round trip before its statement; a closed one fails that statement, once."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    engine = db.get_engine(settings.database_url)
    engine.dispose()
    closed = _backend(engine)
    _terminate(settings, closed)
    with pytest.raises(Exception) as failed:
        _backend(engine)
    assert getattr(failed.value, "connection_invalidated", False)
    assert _backend(engine) != closed  # the pool let the closed connections go


def test_sqlites_log_is_checkpointed_only_once_it_passes_its_limit(tmp_path: Path) -> None:
    """Every engine's connections (a checkpoint is made by whichever commit crosses the limit)
    let the write-ahead log grow past SQLite's 1,000 pages, and checkpoint at the limit."""
    url = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'log.sqlite3'}"}).database_url
    writer = db.autocommit_engine(url)
    engines = [writer, db.get_engine(url), db.get_engine(url, writes=False)]
    for engine in engines:
        with engine.connect() as connection:
            pages = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert pages == db.WAL_CHECKPOINT_PAGES
    with writer.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE filler (blob BLOB)")
        for _ in range(1_000):  # a page and more each, past SQLite's default limit
            connection.exec_driver_sql("INSERT INTO filler VALUES (randomblob(4500))")
        _busy, in_log, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert 2_000 <= in_log < db.WAL_CHECKPOINT_PAGES  # the log still holds every page written
    for engine in engines:
        engine.dispose()
