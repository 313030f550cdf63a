"""coordinators block abusive texters, for a while or until unblocked

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("texters") as batch:
        batch.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("blocked_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("blocked_reason", sa.Text()))
        batch.add_column(sa.Column("blocked_by_id", sa.Integer()))
        batch.create_foreign_key(
            "fk_texters_blocked_by_id_users", "users", ["blocked_by_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("texters") as batch:
        batch.drop_constraint("fk_texters_blocked_by_id_users", type_="foreignkey")
        for column in ("blocked_by_id", "blocked_reason", "blocked_until", "blocked_at"):
            batch.drop_column(column)
