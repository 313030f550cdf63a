"""The migrations build exactly the schema the models describe, and run again harmlessly."""

from __future__ import annotations

from alembic import command

from helpline.config import Settings
from helpline.migrate import alembic_config, upgrade


def test_models_and_migrations_agree(settings: Settings) -> None:
    """`alembic check` finds nothing to generate: no model change lacks a migration."""
    command.check(alembic_config(settings.database_url))


def test_upgrading_again_changes_nothing(settings: Settings) -> None:
    upgrade(settings)
    command.check(alembic_config(settings.database_url))
