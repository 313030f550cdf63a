"""calendar feed tokens and one-time invite links

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 02:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_token_hash", sa.String(64), nullable=True))
        batch_op.create_unique_constraint("uq_users_calendar_token_hash", ["calendar_token_hash"])
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_invites_user_id", "invites", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_invites_user_id", table_name="invites")
    op.drop_table("invites")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_calendar_token_hash", type_="unique")
        batch_op.drop_column("calendar_token_hash")
