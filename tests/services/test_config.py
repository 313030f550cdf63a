"""Settings from the environment: defaults, accepted forms, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpline.config import ConfigError, Settings


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"HELPLINE_INSTANCE_PATH": str(tmp_path), **env})


def test_defaults_are_an_sqlite_file_and_embedded_redis_under_instance(tmp_path: Path) -> None:
    found = settings(tmp_path)
    assert found.database_url == f"sqlite:///{tmp_path / 'helpline.sqlite3'}"
    assert found.redis_url == f"unix://{tmp_path / 'redis.sock'}"
    assert found.public_url == "http://localhost:5000"
    assert not found.sends_texts


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    assert settings(tmp_path).secret_key == settings(tmp_path).secret_key
    assert len(settings(tmp_path).secret_key) == 64


def test_secret_key_is_required_in_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings(tmp_path, HELPLINE_ENV="production")


@pytest.mark.parametrize("given", ["postgres://u@h/db", "postgresql://u@h/db"])
def test_heroku_and_plain_postgres_urls_get_the_psycopg_driver(tmp_path: Path, given: str) -> None:
    assert settings(tmp_path, DATABASE_URL=given).database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    "name,value",
    [
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("REDIS_URL", "redis://"),
        ("PUBLIC_URL", "helpline.example"),
        ("TWILIO_API_BASE_URL", "ftp://x"),
        ("WEB_THREADS", "0"),
        ("WEB_THREADS", "lots"),
    ],
)
def test_unusable_value_names_its_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        settings(tmp_path, **{name: value})


def test_port_sets_the_default_public_url(tmp_path: Path) -> None:
    assert settings(tmp_path, PORT="8123").public_url == "http://localhost:8123"
