"""`flask --app wsgi create-user`, as the contract spells it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from helpline.models import User
from tests.support import Helpline


def create_user(app: Flask, email: str, role: str = "supporter") -> tuple[int, str]:
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            email,
            "--name",
            "Robin Park",
            "--role",
            role,
            "--password",
            "a long password",
        ]
    )
    return result.exit_code, result.output


def test_create_user_creates_and_exits_zero(helpline: Helpline) -> None:
    code, output = create_user(helpline.app, "robin@example.org", "coordinator")
    assert code == 0 and "robin@example.org" in output
    user = helpline.db.scalars(select(User)).one()
    assert user.role == "coordinator" and user.password_hash.startswith("$argon2id$")


def test_create_user_with_an_existing_email_fails_clearly(helpline: Helpline) -> None:
    create_user(helpline.app, "robin@example.org")
    code, output = create_user(helpline.app, "robin@example.org")
    assert code != 0 and "already exists" in output
    assert "Traceback" not in output


def test_create_user_with_an_unknown_role_fails(helpline: Helpline) -> None:
    code, _ = create_user(helpline.app, "robin@example.org", "admin")
    assert code != 0
