"""routing fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:43:30.303469
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('previous_supporter_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('excluded_supporter_ids', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_conversations_previous_supporter_id_users', 'users', ['previous_supporter_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skill_expiry', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('skill_expiry')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint('fk_conversations_previous_supporter_id_users',
                                 type_='foreignkey')
        batch_op.drop_column('last_activity_at')
        batch_op.drop_column('excluded_supporter_ids')
        batch_op.drop_column('previous_supporter_id')
        batch_op.drop_column('language')

