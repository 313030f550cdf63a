"""closing outcomes on conversations, and the post-conversation survey by text

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("outcome", sa.String(32)))
        batch.add_column(sa.Column("survey_sent_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("survey_question", sa.Text()))
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey(
                "conversations.id",
                ondelete="SET NULL",
                name="fk_survey_responses_conversation_id_conversations",
            ),
            index=True,
        ),
        sa.Column(
            "program_id",
            sa.Integer(),
            sa.ForeignKey(
                "programs.id", ondelete="SET NULL", name="fk_survey_responses_program_id_programs"
            ),
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("survey_responses")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("survey_question")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("survey_sent_at")
        batch.drop_column("outcome")
