"""Start-up checks shared by `web` and `worker`: every setting usable, database and Redis up."""

from __future__ import annotations

import logging
import sys

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from helpline.config import ConfigError, Settings
from helpline.db import get_engine

log = logging.getLogger(__name__)


def check(settings: Settings) -> None:
    """Raise ConfigError naming the variable whose service does not answer."""
    check_database(settings)
    check_redis(settings)


def check_database(settings: Settings) -> None:
    try:
        with get_engine(settings.database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise ConfigError(f"DATABASE_URL: cannot reach the database ({_first_line(exc)})") from exc


def check_redis(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    try:
        redis.ping()
    except RedisError as exc:
        raise ConfigError(f"REDIS_URL: cannot reach Redis ({_first_line(exc)})") from exc
    warn_about_posture(redis)


def warn_about_posture(redis: Redis) -> None:
    """Redis holds only queues and leases, but evicting a queued job delays a texter until the
    sweep finds it: ask for noeviction and persistence, and say so when they are missing."""
    try:
        policy = redis.config_get("maxmemory-policy").get("maxmemory-policy")
        persistence = redis.config_get("appendonly").get("appendonly") == "yes" or bool(
            redis.config_get("save").get("save")
        )
    except RedisError:
        log.info("Redis does not allow CONFIG GET; cannot check its eviction policy")
        return
    if policy != "noeviction":
        log.warning("REDIS_URL: maxmemory-policy is %s; noeviction is recommended", policy)
    if not persistence:
        log.warning("REDIS_URL: no persistence (appendonly/save); the sweep recovers lost jobs")


def check_or_exit(process: str) -> Settings:
    try:
        settings = Settings.from_env()
        check(settings)
    except ConfigError as exc:
        print(f"helpline {process}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    return settings


def _first_line(exc: Exception) -> str:
    text_ = str(getattr(exc, "orig", None) or exc)
    return text_.strip().splitlines()[0] if text_.strip() else exc.__class__.__name__
