"""Settings: read once from the environment, checked, then passed around as a frozen value."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"
TWILIO_API = "https://api.twilio.com"
# gunicorn threads per web process: the inbox's event streams each hold one (gunicorn.conf.py).
DEFAULT_WEB_THREADS = 32


class ConfigError(Exception):
    """A setting is present but unusable; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    secret_key: str
    public_url: str
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str = TWILIO_API
    twilio_timeout_s: float = 15.0
    instance_path: Path = DEFAULT_INSTANCE
    production: bool = False
    web_threads: int = DEFAULT_WEB_THREADS
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def sends_texts(self) -> bool:
        """Real sending needs both Twilio credentials; otherwise texts are only recorded."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def webhook_auth_token(self) -> str:
        """The token webhook signatures are checked with.

        Without Twilio credentials the dev phone signs with a token derived from the
        secret key, so the webhook never runs unchecked.
        """
        if self.twilio_auth_token:
            return self.twilio_auth_token
        return _derive(self.secret_key, "dev-twilio-token")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable of the contract; raise ConfigError naming the bad one."""
        env = os.environ if environ is None else environ
        instance = Path(env.get("HELPLINE_INSTANCE_PATH") or DEFAULT_INSTANCE)
        production = env.get("HELPLINE_ENV", "").lower() == "production"
        port = env.get("PORT", "5000")
        return cls(
            database_url=_database_url(env.get("DATABASE_URL"), instance),
            redis_url=_redis_url(env.get("REDIS_URL"), instance),
            secret_key=_secret_key(env.get("SECRET_KEY"), instance, production),
            public_url=_http_url("PUBLIC_URL", env.get("PUBLIC_URL") or f"http://localhost:{port}"),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_api_base_url=_http_url(
                "TWILIO_API_BASE_URL", env.get("TWILIO_API_BASE_URL") or TWILIO_API
            ),
            instance_path=instance,
            production=production,
            twilio_timeout_s=_seconds("TWILIO_TIMEOUT_S", env.get("TWILIO_TIMEOUT_S") or "15"),
            web_threads=_count("WEB_THREADS", env.get("WEB_THREADS") or str(DEFAULT_WEB_THREADS)),
        )


def _derive(key: str, purpose: str) -> str:
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 300:
        raise ConfigError(f"{name}: expected a number of seconds from 0 to 300, got {value!r}")
    return seconds


def _count(name: str, value: str, most: int = 1000) -> int:
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise ConfigError(f"{name}: expected a whole number from 1 to {most}, got {value!r}")
    return int(value)


def _database_url(value: str | None, instance: Path) -> str:
    if not value:
        return f"sqlite:///{instance / 'helpline.sqlite3'}"
    scheme = urlsplit(value).scheme
    # Heroku and most platforms hand out postgres:// or postgresql://; we speak psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    if scheme in ("postgresql+psycopg", "sqlite") or scheme.startswith("sqlite+"):
        return value
    raise ConfigError(f"DATABASE_URL: expected postgresql://… or sqlite:///…, got {scheme!r}")


def _redis_url(value: str | None, instance: Path) -> str:
    if not value:
        return f"unix://{instance / 'redis.sock'}"
    parts = urlsplit(value)
    if parts.scheme in ("redis", "rediss") and parts.hostname:
        return value
    if parts.scheme == "unix" and parts.path:
        return value
    raise ConfigError("REDIS_URL: expected redis://host:port/db or unix:///path/to/socket")


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: expected an http(s):// URL, got {value!r}")
    return value.rstrip("/")


def _secret_key(value: str | None, instance: Path, production: bool) -> str:
    if value:
        return value
    if production:
        raise ConfigError("SECRET_KEY: required in production (HELPLINE_ENV=production)")
    # Generated once and kept, so sessions survive restarts of the development server.
    path = instance / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        instance.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
    except OSError as exc:
        raise ConfigError(f"SECRET_KEY: unset, and {path} could not be used: {exc}") from exc
