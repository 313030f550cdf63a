"""intake question

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 10:20:02.875828
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('intake_answer', sa.String(length=160), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('intake_answer')
        batch_op.drop_column('intake_asked_at')

