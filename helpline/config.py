"""Settings: read once from the environment, checked, then passed around as a frozen value."""

from __future__ import annotations

import base64
import binascii
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
    # 32 bytes sealing texters' addresses (TEXTER_DATA_KEY). Unset outside production, a key
    # is derived from the secret key, so development keeps one generated secret, not two.
    texter_data_key: bytes | None = None
    # Bearer token for GET /metrics; None keeps /metrics switched off (404).
    metrics_token: str | None = None
    # Messages per second per sender, overriding Twilio's defaults: keys are sender types
    # (long_code, toll_free, short_code, whatsapp) or exact sender addresses.
    send_rates: Mapping[str, float] = field(default_factory=dict)
    web_threads: int = DEFAULT_WEB_THREADS
    # The live board's fallback poll, for when its event stream is down (BOARD_POLL_S).
    board_poll_s: int = 30
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

    @property
    def vault_key(self) -> bytes:
        if self.texter_data_key is not None:
            return self.texter_data_key
        return bytes.fromhex(_derive(self.secret_key, "texter-data-key"))

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
            texter_data_key=_texter_data_key(env.get("TEXTER_DATA_KEY"), production),
            public_url=_http_url("PUBLIC_URL", env.get("PUBLIC_URL") or f"http://localhost:{port}"),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_api_base_url=_http_url(
                "TWILIO_API_BASE_URL", env.get("TWILIO_API_BASE_URL") or TWILIO_API
            ),
            instance_path=instance,
            production=production,
            twilio_timeout_s=_seconds("TWILIO_TIMEOUT_S", env.get("TWILIO_TIMEOUT_S") or "15"),
            metrics_token=_metrics_token(env.get("METRICS_TOKEN")),
            send_rates=parse_send_rates(env.get("TWILIO_SEND_RATES") or ""),
            web_threads=_count("WEB_THREADS", env.get("WEB_THREADS") or str(DEFAULT_WEB_THREADS)),
            board_poll_s=_count("BOARD_POLL_S", env.get("BOARD_POLL_S") or "30", most=3600),
        )


SENDER_TYPES = ("long_code", "toll_free", "short_code", "whatsapp")
MIN_METRICS_TOKEN = 16


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


def _texter_data_key(value: str | None, production: bool) -> bytes | None:
    """32 bytes, base64-encoded. Losing it loses every stored texter number: keep it safe."""
    if not value:
        if production:
            raise ConfigError("TEXTER_DATA_KEY: required in production (HELPLINE_ENV=production)")
        return None
    try:
        return decode_data_key(value)
    except ConfigError as exc:
        raise ConfigError(f"TEXTER_DATA_KEY: {exc}") from exc


def decode_data_key(value: str) -> bytes:
    """A texter data key: 32 bytes, in the standard or URL-safe base64 alphabet."""
    try:
        key = base64.b64decode(value.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError("expected 32 random bytes, base64-encoded")
    return key


def _metrics_token(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) < MIN_METRICS_TOKEN:
        raise ConfigError(f"METRICS_TOKEN: use at least {MIN_METRICS_TOKEN} random characters")
    return value


def parse_send_rates(value: str) -> dict[str, float]:
    """`toll_free=25,whatsapp:+15550100000=50`: per sender type or per sender address."""
    rates: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, _, rate = item.rpartition("=")
        try:
            per_second = float(rate)
        except ValueError:
            per_second = 0.0
        sender = key.strip()
        known = sender in SENDER_TYPES or sender.startswith(("+", "whatsapp:")) or sender.isdigit()
        if not known or not 0 < per_second <= 10_000:
            raise ConfigError(
                "TWILIO_SEND_RATES: expected SENDER=MESSAGES_PER_SECOND, comma-separated, where "
                f"SENDER is {', '.join(SENDER_TYPES)} or a sender number; got {item!r}"
            )
        rates[sender] = per_second
    return rates
