"""Alembic environment: one connection, and on PostgreSQL an advisory lock so that several
`release` processes started at once migrate one after another."""

from __future__ import annotations

import warnings
from typing import Any

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.exc import SAWarning

from helpline import models, vault  # noqa: F401  (models registers the tables)
from helpline.config import Settings
from helpline.db import Base, get_engine

MIGRATION_LOCK_KEY = 0x4D494752  # "MIGR"
# Indexes on an expression are not compared with the models (`alembic check`): SQLite's cannot
# be read back (SQLAlchemy and Alembic warn, and leave them out), and PostgreSQL's comes back
# in its own spelling, which never equals ours. tests/services/test_migrations.py checks on
# both that each is there and used.
EXPRESSION_INDEXES = frozenset({"ix_conversations_queue_order"})
warnings.filterwarnings("ignore", r"Skipped unsupported reflection of expression-based", SAWarning)
warnings.filterwarnings("ignore", r"autogenerate skipping metadata-specified expression-based")

url = context.config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
if not vault.is_configured():  # run by the alembic command itself rather than `migrate`
    vault.configure(Settings.from_env().vault_key)


def run_migrations_online() -> None:
    engine = get_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            connection.commit()
        if sqlite:
            # A migration that recreates a table (SQLite's way to alter one) drops the old
            # one; with foreign keys on, that would cascade into the rows that refer to it.
            # Off outside any transaction (SQLite ignores it inside one), checked before the
            # commit: rows the migrations left pointing nowhere undo them.
            _sqlite_pragma(connection, "foreign_keys=OFF")
        orphans = _orphans(connection) if sqlite else set()
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                include_object=_compared,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and _orphans(connection) - orphans:
                    raise RuntimeError("a migration left rows whose foreign keys point nowhere")
            connection.commit()
        finally:
            if sqlite:
                _sqlite_pragma(connection, "foreign_keys=ON")
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                connection.commit()


def _compared(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def _orphans(connection: Connection) -> set[tuple[Any, ...]]:
    """SQLite's rows whose foreign keys point nowhere (table, rowid, parent, key)."""
    return {tuple(row) for row in _sqlite_pragma(connection, "foreign_key_check")}


def _sqlite_pragma(connection: Connection, pragma: str) -> list[Any]:
    """Run a PRAGMA on the driver's connection, outside SQLAlchemy's transaction."""
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    return dbapi.execute(f"PRAGMA {pragma}").fetchall()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
