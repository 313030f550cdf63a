"""Counting failures in Redis to slow down guessing: sign-ins and forged webhooks."""

from __future__ import annotations

import hashlib
import logging

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def key(kind: str, value: str) -> str:
    """A Redis key that does not store the email or address itself."""
    return f"helpline:throttle:{kind}:{hashlib.sha256(value.lower().encode()).hexdigest()[:32]}"


def is_blocked(redis: Redis, keys: list[tuple[str, int]]) -> bool:
    """True when any key has reached its limit of failures in the current window."""
    try:
        counts = redis.mget([k for k, _ in keys])
    except RedisError as exc:
        log.warning("throttle check skipped, Redis unreachable: %s", exc)
        return False  # staff must be able to sign in to a helpline even with Redis down
    return any(int(count or 0) >= limit for count, (_, limit) in zip(counts, keys, strict=True))


def record_failure(redis: Redis, keys: list[str], window_s: int) -> None:
    """Count a failure; the window restarts with each one, so guessing never catches up."""
    try:
        pipe = redis.pipeline()
        for k in keys:
            pipe.incr(k)
            pipe.expire(k, window_s)
        pipe.execute()
    except RedisError as exc:
        log.warning("throttle not recorded, Redis unreachable: %s", exc)


def clear(redis: Redis, keys: list[str]) -> None:
    """Forget the failures after a success; an unreachable Redis only leaves them to expire."""
    try:
        redis.delete(*keys)
    except RedisError as exc:
        log.warning("throttle not cleared, Redis unreachable: %s", exc)


def is_over_rate(redis: Redis, counter: str, limit: int, window_s: int) -> bool:
    """Count one request in a fixed window; True once more than `limit` came within it."""
    try:
        pipe = redis.pipeline()
        pipe.set(counter, 0, ex=window_s, nx=True)
        pipe.incr(counter)
        _, count = pipe.execute()
    except RedisError as exc:
        log.warning("rate not counted, Redis unreachable: %s", exc)
        return False
    return int(count) > limit
