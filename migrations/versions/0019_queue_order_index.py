"""an index holding the queue in the order a routing pass reads it

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 01:30:00

A routing pass reads the waiting conversations a page at a time, in `routing.policy.queue_order`'s
order: urgent first, then limited (flood) texters last, then the longest wait, then the oldest
id. No index held that order, so the database read and sorted the whole queue for every page:
a decision with ten thousand waiting cost three times one with ten. This index holds the
queued conversations in that order; the pass reads its page from the front of it.

The order's first key is an expression (`helpline.models.queue_rank`), written here exactly as
the query writes it. On SQLite, a later migration that recreates `conversations` (batch mode)
loses an index on an expression (SQLAlchemy does not read one back): it must create it again
(tests/services/test_migrations.py checks the queue is read through it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

INDEX = "ix_conversations_queue_order"
RANK = "(CASE WHEN priority = 'urgent' THEN 0 ELSE 1 END)"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "conversations",
        ["status", sa.text(RANK), "limited", "waiting_since", "id"],
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="conversations")
