"""seal texters' addresses at rest; find them by a blind index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from helpline import vault

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# The first revision left the unique constraint on texters.address unnamed: PostgreSQL named
# it itself; on SQLite the batch copy names it by this convention so it can be dropped.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("texters", naming_convention=SQLITE_NAMES) as batch:
        batch.add_column(sa.Column("address_key", sa.String(64), nullable=True))
        batch.alter_column("address", type_=sa.Text(), existing_type=sa.String(64))
        batch.drop_constraint(
            "uq_texters_address" if sqlite else "texters_address_key", type_="unique"
        )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("texter_key", sa.String(64), nullable=True))
        batch.alter_column("from_address", type_=sa.Text(), existing_type=sa.String(64))
        batch.alter_column("to_address", type_=sa.Text(), existing_type=sa.String(64))
        batch.drop_index("ix_messages_from_address")
        batch.drop_index("ix_messages_to_address")

    seal_existing_rows(op.get_bind())

    with op.batch_alter_table("texters") as batch:
        batch.alter_column("address_key", nullable=False, existing_type=sa.String(64))
        batch.create_unique_constraint("uq_texters_address_key", ["address_key"])
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("texter_key", nullable=False, existing_type=sa.String(64))
        batch.create_index("ix_messages_texter_key", ["texter_key", "direction"])


def seal_existing_rows(connection: sa.Connection) -> None:
    """Addresses stored in clear before this revision are sealed in place."""
    box = vault.current()
    texters = connection.execute(sa.text("SELECT id, address FROM texters")).all()
    for texter_id, address in texters:
        connection.execute(
            sa.text("UPDATE texters SET address = :sealed, address_key = :key WHERE id = :id"),
            {"sealed": box.seal(address), "key": box.index(address), "id": texter_id},
        )
    rows = connection.execute(
        sa.text("SELECT id, direction, from_address, to_address FROM messages")
    ).all()
    for message_id, direction, from_address, to_address in rows:
        texter = from_address if direction == "in" else to_address
        connection.execute(
            sa.text(
                "UPDATE messages SET from_address = :sealed_from, to_address = :sealed_to, "
                "texter_key = :key WHERE id = :id"
            ),
            {
                "sealed_from": box.seal(from_address),
                "sealed_to": box.seal(to_address),
                "key": box.index(texter),
                "id": message_id,
            },
        )


def downgrade() -> None:
    raise NotImplementedError("sealed addresses are not unsealed by a downgrade")
