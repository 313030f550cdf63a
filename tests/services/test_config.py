"""Settings from the environment: defaults, accepted forms, and one clear error per bad value."""

from __future__ import annotations

import base64
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


def test_without_a_texter_data_key_development_derives_one_from_the_secret_key(
    tmp_path: Path,
) -> None:
    key = settings(tmp_path).vault_key
    assert len(key) == 32 and settings(tmp_path).vault_key == key
    assert settings(tmp_path, SECRET_KEY="another").vault_key != key


def test_texter_data_key_is_read_in_either_base64_alphabet(tmp_path: Path) -> None:
    raw = bytes(range(200, 232))  # encodes with both '+'/'/' and '-'/'_' forms
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert standard != urlsafe
    assert settings(tmp_path, TEXTER_DATA_KEY=standard).texter_data_key == raw
    assert settings(tmp_path, TEXTER_DATA_KEY=urlsafe).texter_data_key == raw


@pytest.mark.parametrize("value", ["short", base64.b64encode(b"x" * 16).decode(), "!!!!"])
def test_unusable_texter_data_key_is_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="TEXTER_DATA_KEY"):
        settings(tmp_path, TEXTER_DATA_KEY=value)


def test_texter_data_key_is_required_in_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TEXTER_DATA_KEY"):
        settings(tmp_path, HELPLINE_ENV="production", SECRET_KEY="s" * 40)


def test_metrics_are_off_without_a_token_and_a_short_token_is_refused(tmp_path: Path) -> None:
    assert settings(tmp_path).metrics_token is None
    assert settings(tmp_path, METRICS_TOKEN="x" * 32).metrics_token == "x" * 32
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        settings(tmp_path, METRICS_TOKEN="short")


def test_send_rates_name_a_sender_type_or_number(tmp_path: Path) -> None:
    found = settings(tmp_path, TWILIO_SEND_RATES="toll_free=25, whatsapp:+15550100000=50,741741=30")
    assert found.send_rates == {"toll_free": 25, "whatsapp:+15550100000": 50, "741741": 30}
    assert settings(tmp_path).send_rates == {}


@pytest.mark.parametrize("value", ["toll_free", "toll_free=fast", "tollfree=3", "long_code=0"])
def test_unusable_send_rates_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="TWILIO_SEND_RATES"):
        settings(tmp_path, TWILIO_SEND_RATES=value)
