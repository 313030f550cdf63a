"""texters can ask to be erased (DELETE, confirmed by a second DELETE)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("texters") as batch:
        batch.add_column(sa.Column("erase_requested_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("texters") as batch:
        batch.drop_column("erase_requested_at")
