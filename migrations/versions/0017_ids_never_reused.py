"""message and conversation ids are never reused on SQLite

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 13:00:00

Without AUTOINCREMENT, SQLite gives a new row the largest id in use plus one, so deleting
the newest rows (an erasure, a purge) hands their ids to the next rows. An id names a text's
send job (`send-<id>`), an audit trail entry's conversation, a link in the inbox: none of
them may come to mean another row. PostgreSQL's sequences never go back; nothing to do there.
Recreating `conversations` needs foreign keys off (migrations/env.py turns them off on
SQLite), or dropping the old table would cascade into every text.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TABLES = ("conversations", "messages")


def upgrade() -> None:
    _recreate(autoincrement=True)


def downgrade() -> None:
    _recreate(autoincrement=False)


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    if autoincrement:
        # Copying the rows set each sequence to the largest id kept. A purged conversation's
        # audit trail outlives it: start past its id too, so no new conversation takes it.
        op.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'conversations', 0 "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'conversations')"
        )
        op.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, "
            "(SELECT COALESCE(MAX(conversation_id), 0) FROM audit_log)) "
            "WHERE name = 'conversations'"
        )
