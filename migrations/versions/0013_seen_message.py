"""the holder's last-seen text per conversation, for unread counts in the inbox

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("seen_message_id", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("seen_message_id")
