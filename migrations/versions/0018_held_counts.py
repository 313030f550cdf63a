"""each supporter's held conversations counted by the database, and an index of who has room

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:00:00

A routing pass needs the available supporters below their limit. Counting every available
supporter's conversations to find them costs a pass in proportion to the roster, however few
have room. Here the database keeps the count on the supporter's row, in triggers on
`conversations` (so every write keeps it, the ORM's, a migration's or a hand-typed one), and a
partial index holds only the available supporters below their limit: a pass reads those.

What a supporter holds is what `helpline.services.snapshots.loads` counts: active
conversations assigned to them, and active ones offered to them in a warm handoff.

On SQLite, a later migration that recreates `conversations` or `users` (batch mode) drops
these triggers or this index with the old table: it must create them again
(tests/services/test_held_counts.py fails if it does not).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# The columns whose change moves a conversation in or out of someone's count.
WATCHED = ("status", "priority", "supporter_id", "offered_to_id")
ROOM_INDEX = "ix_users_with_room"
ROOM_PREDICATE = (
    "is_active = {true} AND status = 'available' AND held_conversations < max_conversations"
)


def _held(row: str, sign: str, holder: str, cast: str) -> str:
    """One statement moving `row`'s conversation (OLD or NEW) into or out of a holder's count."""
    active = f"({row}.status = 'active'){cast}"
    urgent = f"({row}.status = 'active' AND {row}.priority = 'urgent'){cast}"
    return (
        f"UPDATE users SET held_conversations = held_conversations {sign} {active}, "
        f"held_urgent = held_urgent {sign} {urgent} WHERE id = {row}.{holder};"
    )


def _moves(rows: list[tuple[str, str]], cast: str) -> str:
    return " ".join(
        _held(row, sign, holder, cast)
        for row, sign in rows
        for holder in ("supporter_id", "offered_to_id")
    )


CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
TOUCHES_ACTIVE = "(OLD.status = 'active' OR NEW.status = 'active')"


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("held_conversations", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "users", sa.Column("held_urgent", sa.Integer(), nullable=False, server_default="0")
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    # Counted once here; from now on the triggers keep it.
    for holder in ("supporter_id", "offered_to_id"):
        op.execute(
            "UPDATE users SET "
            "held_conversations = held_conversations + (SELECT count(*) FROM conversations c "
            f"WHERE c.{holder} = users.id AND c.status = 'active'), "
            "held_urgent = held_urgent + (SELECT count(*) FROM conversations c "
            f"WHERE c.{holder} = users.id AND c.status = 'active' AND c.priority = 'urgent')"
        )
    op.create_index(
        ROOM_INDEX,
        "users",
        ["id"],
        postgresql_where=sa.text(ROOM_PREDICATE.format(true="true")),
        sqlite_where=sa.text(ROOM_PREDICATE.format(true="1")),
    )


def _postgresql_triggers() -> None:
    leave = _moves([("OLD", "-")], "::int")
    join = _moves([("NEW", "+")], "::int")
    op.execute(
        "CREATE FUNCTION conversations_count_held() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP <> 'INSERT' THEN {leave} END IF; "
        f"IF TG_OP <> 'DELETE' THEN {join} END IF; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER conversations_held_insert AFTER INSERT ON conversations "
        "FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION conversations_count_held()"
    )
    op.execute(
        "CREATE TRIGGER conversations_held_delete AFTER DELETE ON conversations "
        "FOR EACH ROW WHEN (OLD.status = 'active') EXECUTE FUNCTION conversations_count_held()"
    )
    op.execute(
        f"CREATE TRIGGER conversations_held_update AFTER UPDATE OF {', '.join(WATCHED)} "
        f"ON conversations FOR EACH ROW WHEN ({TOUCHES_ACTIVE} AND ({CHANGED})) "
        "EXECUTE FUNCTION conversations_count_held()"
    )


def _sqlite_triggers() -> None:
    changed = CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    op.execute(
        "CREATE TRIGGER conversations_held_insert AFTER INSERT ON conversations "
        f"WHEN NEW.status = 'active' BEGIN {_moves([('NEW', '+')], '')} END"
    )
    op.execute(
        "CREATE TRIGGER conversations_held_delete AFTER DELETE ON conversations "
        f"WHEN OLD.status = 'active' BEGIN {_moves([('OLD', '-')], '')} END"
    )
    op.execute(
        f"CREATE TRIGGER conversations_held_update AFTER UPDATE OF {', '.join(WATCHED)} "
        f"ON conversations WHEN {TOUCHES_ACTIVE} AND ({changed}) "
        f"BEGIN {_moves([('OLD', '-'), ('NEW', '+')], '')} END"
    )


def downgrade() -> None:
    op.drop_index(ROOM_INDEX, "users")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "delete", "update"):
        on = " ON conversations" if postgresql else ""
        op.execute(f"DROP TRIGGER conversations_held_{event}{on}")
    if postgresql:
        op.execute("DROP FUNCTION conversations_count_held()")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("held_urgent")
        batch.drop_column("held_conversations")
