"""shift exceptions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:18:33.433520
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.drop_column('cancelled')

