"""Bring the schema up to date with Alembic; safe to run any number of times, even at once."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from helpline import vault
from helpline.config import PROJECT_ROOT, Settings


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings) -> None:
    vault.configure(settings.vault_key)  # migrations seal addresses stored in clear before
    if settings.database_url.startswith("sqlite:///"):
        settings.instance_path.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), "head")
