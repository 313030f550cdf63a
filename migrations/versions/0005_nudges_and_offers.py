"""nudges and warm handoffs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:08:44.855331
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_reply_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('nudged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('offered_to_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_conversations_offered_to_id_users', 'users', ['offered_to_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint('fk_conversations_offered_to_id_users', type_='foreignkey')
        batch_op.drop_column('offered_at')
        batch_op.drop_column('offered_to_id')
        batch_op.drop_column('nudged_at')
        batch_op.drop_column('last_reply_at')

