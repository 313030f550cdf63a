"""`flask --app wsgi …` commands: create-user, migrate, seed-demo, rotate-texter-key."""

from __future__ import annotations

import os
from datetime import timedelta

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from helpline import vault, web
from helpline.config import ConfigError, decode_data_key
from helpline.models import User
from helpline.services import rekey, shifts, users


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(migrate)
    app.cli.add_command(seed_demo)
    app.cli.add_command(rotate_texter_key)


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(users.ROLES), default="supporter", show_default=True)
@click.option("--password", required=True)
def create_user(email: str, name: str, role: str, password: str) -> None:
    """Create a supporter or coordinator."""
    session = web.db()
    try:
        user = users.create_user(session, email, name, password, role)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from exc
    session.commit()
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@click.command("migrate")
@with_appcontext
def migrate() -> None:
    """Bring the database schema up to date (what the Procfile's release line runs)."""
    from helpline.migrate import upgrade
    from helpline.preflight import check_database

    settings = web.settings()
    try:
        check_database(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    upgrade(settings)
    click.echo("database schema is up to date")


@click.command("rotate-texter-key")
@with_appcontext
@click.option(
    "--old-key-env",
    default="OLD_TEXTER_DATA_KEY",
    show_default=True,
    help="The environment variable holding the key the data is sealed with now.",
)
def rotate_texter_key(old_key_env: str) -> None:
    """Seal every stored texter address again under TEXTER_DATA_KEY (run with the service
    stopped; safe to interrupt and run again)."""
    value = os.environ.get(old_key_env)
    if not value:
        raise click.ClickException(f"{old_key_env}: set it to the key the data is sealed with now")
    try:
        old = vault.Vault(decode_data_key(value))
    except ConfigError as exc:
        raise click.ClickException(f"{old_key_env}: {exc}") from exc
    try:
        done = rekey.rekey(web.db(), old)
    except vault.VaultError as exc:
        raise click.ClickException(
            f"{exc}: neither key opens it. Nothing after the last finished batch was changed."
        ) from exc
    click.echo(f"re-sealed {done.texters} texters and {done.messages} texts under the current key")


DEMO_PASSWORD = "helpline-demo"
DEMO_USERS = (
    ("coordinator@example.org", "Casey Coordinator", "coordinator", ["crisis"]),
    ("sam@example.org", "Sam Supporter", "supporter", ["crisis"]),
    ("alex@example.org", "Alex Supporter", "supporter", []),
)


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Demo coordinator and two supporters, available and on shift for the next 12 hours.

    Safe to run again: existing demo users are kept and given a fresh shift if theirs ended.
    """
    session = web.db()
    now = web.now()
    for email, name, role, skills in DEMO_USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = users.create_user(
                session, email, name, DEMO_PASSWORD, role, skills=skills, languages=["en"]
            )
        if role == "supporter":
            user.status = "available"
            on_shift = shifts.list_occurrences(session, now, now + timedelta(hours=1), user.id)
            if not on_shift:
                shifts.create_shift(
                    session, user.id, now - timedelta(minutes=5), now + timedelta(hours=12)
                )
    session.commit()
    click.echo(
        f"demo users (password {DEMO_PASSWORD!r}): " + ", ".join(email for email, *_ in DEMO_USERS)
    )
