"""A supporter's event stream (Server-Sent Events), fed by their Redis stream; the same for
the coordinators' live board, fed by the shared board stream (notices.BOARD).

Each web process keeps one pub/sub connection (the doorbell) and wakes the streams it serves
for the supporter named in a ring; a woken stream reads the supporter's Redis stream from the
last notice it sent. The doorbell only says "look now": a missed ring costs at most one
heartbeat's delay, because every stream also looks on each heartbeat.

A stream lives a bounded time and then ends; the browser reconnects with Last-Event-ID and
carries on from there, so a thread is never held for long and sign-out takes effect. When the
notices it asks for are no longer kept (trimmed, or Redis lost them), it is told to re-sync.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from redis import Redis
from redis.exceptions import RedisError

from helpline.live.notices import BELL, BOARD, STREAM_LENGTH, Listener, stream_key

log = logging.getLogger(__name__)

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
START = "0-0"
BUSY_RETRY_MS = 15_000
# Set when this process is asked to stop (gunicorn.conf.py): every stream ends at once, telling
# the browser to reconnect (to a process still serving), instead of holding the stop until
# its next heartbeat or the graceful timeout.
_closing = threading.Event()
_bells: weakref.WeakSet[Doorbell] = weakref.WeakSet()


def close_streams() -> None:
    """End every stream this process serves, now and from now on."""
    _closing.set()
    for bell in list(_bells):
        bell.ring()


@dataclass(frozen=True)
class Timing:
    lifetime_s: float = 120.0  # then the stream ends and the browser reconnects
    heartbeat_s: float = 15.0  # a comment line: proxies keep the connection, dead ones show
    retry_ms: int = 1000  # how soon the browser reconnects


class Doorbell:
    """One pub/sub subscription per process; wakes the local streams of a supporter (or of
    the board)."""

    def __init__(self, redis_url: str, max_streams: int) -> None:
        self._redis_url = redis_url
        self.max_streams = max_streams
        self._lock = threading.Lock()
        self._waiters: dict[Listener, set[threading.Event]] = {}
        self._thread: threading.Thread | None = None
        _bells.add(self)

    def register(self, user_id: Listener) -> threading.Event | None:
        """A wake-up for one stream of `user_id`; None when this process serves its limit."""
        with self._lock:
            if sum(len(w) for w in self._waiters.values()) >= self.max_streams:
                return None
            waiter = threading.Event()
            self._waiters.setdefault(user_id, set()).add(waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="doorbell", daemon=True)
                self._thread.start()
            return waiter

    def unregister(self, user_id: Listener, waiter: threading.Event) -> None:
        with self._lock:
            waiters = self._waiters.get(user_id, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(user_id, None)

    def streams(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values())

    def ring(self, user_id: Listener | None = None) -> None:
        """Wake the streams of `user_id`, or every stream (after the subscription was lost)."""
        with self._lock:
            if user_id is None:
                waiters = [w for ws in self._waiters.values() for w in ws]
            else:
                waiters = list(self._waiters.get(user_id, ()))
        for waiter in waiters:
            waiter.set()

    def is_listening(self) -> bool:
        with self._lock:
            return self._thread is not None

    def _listen(self) -> None:
        """Subscribed while this process serves any stream; the thread ends with the last."""
        while True:
            try:
                self._subscribed()
                return
            except RedisError as exc:
                log.warning("live doorbell lost its Redis subscription (%s); resubscribing", exc)
                time.sleep(1.0)
                if not self._keep_listening():
                    return

    def _keep_listening(self) -> bool:
        with self._lock:
            if not self._waiters:
                self._thread = None  # the next stream starts a new listener
                return False
            return True

    def _subscribed(self) -> None:
        redis = Redis.from_url(self._redis_url, socket_connect_timeout=5)
        try:
            with redis.pubsub(ignore_subscribe_messages=True) as pubsub:  # type: ignore[no-untyped-call]
                pubsub.subscribe(BELL)
                self.ring()  # rings may have been missed while not subscribed
                while self._keep_listening():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._ring_data(message["data"])
        finally:
            redis.close()

    def _ring_data(self, data: bytes) -> None:
        if data.decode(errors="replace") == BOARD:
            self.ring(BOARD)
            return
        try:
            self.ring(int(data))
        except ValueError:
            log.warning("live doorbell: ignored a ring that names no supporter")


def parse_last_id(value: str | None) -> str | None:
    """A stream id from Last-Event-ID or ?since=, or None when absent or malformed."""
    if value and STREAM_ID.match(value.strip()):
        return value.strip()
    return None


def latest_id(redis: Redis, user_id: Listener) -> str:
    """The id of the supporter's newest notice: a page rendered now has seen everything up
    to it."""
    newest = redis.xrevrange(stream_key(user_id), count=1)
    return _decode(newest[0][0]) if newest else START


def stream(
    redis: Redis, bell: Doorbell, user_id: Listener, last_id: str | None, timing: Timing
) -> Iterator[str]:
    """The text/event-stream body: notices after `last_id`, heartbeats, then an end.

    It registers with the doorbell on its first step, so a response never sent holds nothing.
    When this process already serves as many streams as it may, the browser is told to re-sync
    now and to come back later: it then refreshes at that pace instead of live.
    """
    if _closing.is_set():  # the process is stopping: come back soon, to another
        yield f"retry: {timing.retry_ms}\n\n"
        return
    waiter = bell.register(user_id)
    if waiter is None:
        yield f"retry: {BUSY_RETRY_MS}\n\n" + _event("resync", None, {})
        return
    deadline = time.monotonic() + timing.lifetime_s
    try:
        yield f"retry: {timing.retry_ms}\n\n"
        if last_id is None or _missed_some(redis, user_id, last_id):
            last_id = latest_id(redis, user_id)
            yield _event("resync", last_id, {})
        while True:
            waiter.clear()  # before reading: a ring from now on is not lost
            for entry_id, fields in _after(redis, user_id, last_id):
                last_id = entry_id
                yield _event("notice", entry_id, fields)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or _closing.is_set():
                return
            if not waiter.wait(min(timing.heartbeat_s, remaining)):
                yield ": still here\n\n"
    except RedisError as exc:
        log.warning("live stream ended early, Redis unavailable: %s", exc)
        yield f"retry: {BUSY_RETRY_MS}\n\n"  # come back when Redis may be back, not at once
    finally:
        bell.unregister(user_id, waiter)


def _after(redis: Redis, user_id: Listener, last_id: str) -> list[tuple[str, dict[str, str]]]:
    entries = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        redis.xrange(stream_key(user_id), min=f"({last_id}", max="+", count=STREAM_LENGTH),
    )
    return [
        (_decode(entry_id), {_decode(k): _decode(v) for k, v in fields.items()})
        for entry_id, fields in entries
    ]


def _missed_some(redis: Redis, user_id: Listener, last_id: str) -> bool:
    """True when notices after `last_id` may be gone: trimmed away, or the stream lost."""
    key = stream_key(user_id)
    oldest = redis.xrange(key, count=1)
    if not oldest:
        return last_id != START
    if last_id == START:
        return int(redis.xlen(key)) >= STREAM_LENGTH
    return _as_tuple(_decode(oldest[0][0])) > _as_tuple(last_id)


def _as_tuple(stream_id: str) -> tuple[int, int]:
    millis, _, sequence = stream_id.partition("-")
    return int(millis), int(sequence)


def _event(kind: str, event_id: str | None, data: dict[str, str]) -> str:
    payload = {"kind": data.get("kind"), "conversation": _as_int(data.get("conversation"))}
    body = json.dumps(payload if data else {})
    id_line = f"id: {event_id}\n" if event_id else ""
    return f"event: {kind}\n{id_line}data: {body}\n\n"


def _as_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _decode(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
