"""flood policy

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:06:50.775812
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flagged', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.add_column(sa.Column('limited', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('limited')
        batch_op.drop_column('flagged')

