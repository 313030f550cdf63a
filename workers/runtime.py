"""What a job needs from its process: settings, Redis and the Twilio client, made once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from redis import Redis
from sqlalchemy.orm import Session
from twilio.rest import Client

from helpline import db, vault
from helpline.config import Settings
from helpline.live import notices
from helpline.twilio_rest import make_client

_configured: list[Settings] = []


def configure(settings: Settings) -> None:
    """Set the settings jobs in this process use (the worker entry point and tests call it)."""
    _configured[:] = [settings]
    vault.configure(settings.vault_key)
    if redis.cache_info().currsize:
        redis().close()  # its connections closed now, not whenever it is collected
    redis.cache_clear()
    twilio.cache_clear()


def settings() -> Settings:
    if not _configured:
        configure(Settings.from_env())
    return _configured[0]


@cache
def redis() -> Redis:
    return Redis.from_url(settings().redis_url)


@cache
def twilio() -> Client | None:
    return make_client(settings())


@contextmanager
def transaction() -> Iterator[Session]:
    """A job's transaction: committed when the block ends normally, and what it changed told
    to the supporters it concerns (their inbox updates live)."""
    with db.transaction(settings().database_url) as session:
        notices.watch(session, redis())
        yield session
