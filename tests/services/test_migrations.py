"""The migrations build exactly the schema the models describe, and run again harmlessly."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from helpline import vault
from helpline.config import Settings
from helpline.db import get_engine
from helpline.migrate import alembic_config, upgrade
from helpline.models import Conversation, Message, Texter
from helpline.services import assignment

HELPLINE = "+15005550006"


def test_models_and_migrations_agree(settings: Settings) -> None:
    """`alembic check` finds nothing to generate: no model change lacks a migration."""
    command.check(alembic_config(settings.database_url))


def test_upgrading_again_changes_nothing(settings: Settings) -> None:
    upgrade(settings)
    command.check(alembic_config(settings.database_url))


def _texter_conversation_text(db: Session, number: str) -> tuple[Conversation, Message]:
    texter = Texter(address=number, address_key=vault.index(number))
    db.add(texter)
    db.flush()
    convo = Conversation(texter_id=texter.id, helpline_number=HELPLINE)
    db.add(convo)
    db.flush()
    text = Message(
        conversation_id=convo.id,
        direction="out",
        from_address=HELPLINE,
        to_address=number,
        texter_key=texter.address_key,
    )
    db.add(text)
    db.flush()
    return convo, text


def test_the_id_of_a_deleted_row_is_never_given_again(settings: Settings) -> None:
    """An erasure deletes the newest rows; the next text must not take a deleted text's id
    (its send job, `send-<id>`, would be taken for the deleted one's) nor the next
    conversation a deleted one's (its audit trail, an unread mark)."""
    engine = get_engine(settings.database_url)
    with Session(engine) as db, db.begin():
        convo, text = _texter_conversation_text(db, "+15550100001")
        gone = (convo.id, text.id)
        db.delete(text)
        db.delete(convo)
    with Session(engine) as db, db.begin():
        convo, text = _texter_conversation_text(db, "+15550100002")
        assert convo.id > gone[0] and text.id > gone[1]


def test_sqlite_tables_keep_their_rows_and_keys_through_0017(
    migrated: Settings, tmp_path: Path
) -> None:
    """0017 recreates `conversations` and `messages` on SQLite: every row, foreign key and
    index stays, and ids start past those of deleted rows the audit trail still names."""
    database_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    settings = dataclasses.replace(migrated, database_url=database_url, instance_path=tmp_path)
    command.upgrade(alembic_config(settings.database_url), "0016")
    engine = get_engine(settings.database_url)
    with Session(engine) as db, db.begin():
        kept, _ = _texter_conversation_text(db, "+15550100003")
        kept_id = kept.id
        db.execute(
            sa.text("INSERT INTO audit_log (at, action, conversation_id) VALUES (:at, 'view', 40)"),
            {"at": "2026-01-01"},
        )
    upgrade(settings)
    with Session(engine) as db, db.begin():
        kept = db.get_one(Conversation, kept_id)
        texter_id = kept.texter_id
        assert [m.direction for m in kept.messages] == ["out"]
        closed = Conversation(texter_id=texter_id, helpline_number=HELPLINE, status="closed")
        db.add(closed)
        db.flush()  # the unique index is still partial: closed ones do not count
        another = Conversation(texter_id=texter_id, helpline_number=HELPLINE)
        db.add(another)
        with pytest.raises(sa.exc.IntegrityError):  # still one open conversation per texter
            db.flush()
    with Session(engine) as db, db.begin():
        db.delete(db.get_one(Texter, texter_id))  # cascades through both new tables
    with Session(engine) as db, db.begin():
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
        convo, _ = _texter_conversation_text(db, "+15550100004")
        assert convo.id > 40
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_list(messages)").all()


def test_0018_counts_what_supporters_already_hold(migrated: Settings, tmp_path: Path) -> None:
    """Upgrading a live database: each supporter's held count starts at what they hold (their
    active conversations and active ones offered to them), and the triggers go on from there."""
    database_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    settings = dataclasses.replace(migrated, database_url=database_url, instance_path=tmp_path)
    command.upgrade(alembic_config(settings.database_url), "0017")
    engine = get_engine(settings.database_url)
    old = sa.MetaData()
    users, texters, convos = (
        sa.Table(name, old, autoload_with=engine) for name in ("users", "texters", "conversations")
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        for uid in (1, 2):
            connection.execute(
                users.insert().values(
                    id=uid,
                    email=f"s{uid}@example.org",
                    name="S",
                    role="supporter",
                    password_hash="x",
                    skills=[],
                    languages=[],
                    max_conversations=3,
                    status="available",
                    is_active=True,
                    timezone="UTC",
                    created_at=now,
                )
            )
        held = [
            ("active", 1, None, "urgent"),
            ("active", 1, 2, "normal"),
            ("closed", 2, None, "normal"),
        ]
        for n, (status, holder, offered, priority) in enumerate(held):
            connection.execute(
                texters.insert().values(
                    id=n + 1,
                    address=f"+1555010{n:04d}",
                    address_key=f"k{n}",
                    opted_out=False,
                    created_at=now,
                )
            )
            connection.execute(
                convos.insert().values(
                    texter_id=n + 1,
                    status=status,
                    supporter_id=holder,
                    offered_to_id=offered,
                    priority=priority,
                    helpline_number=HELPLINE,
                    channel="sms",
                    limited=False,
                    required_skills=[],
                    excluded_supporter_ids=[],
                    created_at=now,
                )
            )
    upgrade(settings)
    counts = sa.text("SELECT id, held_conversations, held_urgent FROM users ORDER BY id")
    with engine.begin() as connection:
        assert connection.execute(counts).all() == [(1, 2, 1), (2, 1, 0)]
        connection.execute(sa.text("UPDATE conversations SET status = 'closed'"))
        assert connection.execute(counts).all() == [(1, 0, 0), (2, 0, 0)]


def test_a_routing_pass_reads_its_page_of_the_queue_from_the_queue_order_index(
    settings: Settings,
) -> None:
    """The page is read in order from the front of the index, not sorted from the whole queue
    (an index on an expression is left out of `alembic check`: here it is checked)."""
    engine = get_engine(settings.database_url)
    # Compiled as the pass runs it, values bound: a bound value where the index's expression
    # has a constant keeps SQLite (and PostgreSQL's plan for any values) from using its order.
    page = assignment.queued_in_order().limit(50).compile(engine)
    values = tuple(page.params[name] for name in page.positiontup or ())  # positional on both
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql("EXPLAIN " + str(page), values)
            plan = "\n".join(row[0] for row in rows)
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(page), values)
            plan = "\n".join(row[-1] for row in rows)
    assert "ix_conversations_queue_order" in plan
    assert "Sort" not in plan and "B-TREE FOR ORDER BY" not in plan, plan
