"""Pooled connections: checked only after sitting idle, and replaced when found closed."""

from __future__ import annotations

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
