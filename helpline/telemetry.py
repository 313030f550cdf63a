"""Counters and histograms kept in Redis.

Several web and worker processes run at once, on one machine or many: each adds to one shared
total (HINCRBY), so any web process answers a scrape with the whole deployment's numbers.
Recording never fails the work it measures: when Redis does not answer, the sample is dropped.
No Flask here: workers record too.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY = "helpline:metrics:"


@dataclass(frozen=True)
class Counter:
    name: str  # without the `_total` the exposition adds
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]


@dataclass(frozen=True)
class HistogramValue:
    cumulative: list[tuple[str, float]]  # (le, count of samples <= le), ending with +Inf
    count: float
    sum: float


WEBHOOK_REQUESTS = Counter(
    "helpline_webhook_requests",
    "Twilio webhook requests answered, by HTTP status",
    ("webhook", "code"),
)
WEBHOOK_DURATION = Histogram(
    "helpline_webhook_duration_seconds",
    "Time to answer a Twilio webhook",
    ("webhook",),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SEND_ATTEMPTS = Counter(
    "helpline_send_attempts",
    "Texts handed to Twilio, by result: sent, refused (for good), retry (429, 5xx or network "
    "error), unknown (no answer: reconciled before any resend), recorded (dev mode)",
    ("result",),
)
SENDS_DEFERRED = Counter(
    "helpline_sends_deferred",
    "Texts held back for later to keep to their sender's messages-per-second rate",
    ("sender_type",),
)
STATUS_CALLBACKS = Counter(
    "helpline_status_callbacks",
    "Delivery statuses Twilio reported for outbound texts (status callbacks)",
    ("status",),
)
JOB_RETRIES = Counter(
    "helpline_job_retries", "Job attempts that failed and are scheduled to run again", ("job",)
)
JOB_FAILURES = Counter(
    "helpline_job_failures",
    "Jobs that failed for good and were left in RQ's failed registry",
    ("job",),
)
COUNTERS = (
    WEBHOOK_REQUESTS,
    SEND_ATTEMPTS,
    SENDS_DEFERRED,
    STATUS_CALLBACKS,
    JOB_RETRIES,
    JOB_FAILURES,
)
HISTOGRAMS = (WEBHOOK_DURATION,)


def count(redis: Redis | Pipeline, counter: Counter, by: int = 1, **labels: str) -> None:
    """Add `by` to `counter` for these label values."""
    with _commands(redis) as pipe:
        pipe.hincrby(KEY + counter.name, _field(counter.labels, labels), by)


def observe(
    redis: Redis | Pipeline, histogram: Histogram, values: Sequence[float], **labels: str
) -> None:
    """Record samples: how many fell in each bucket (the first whose bound holds them), and
    their sum; one command for each bucket they fell in, and one for the sum."""
    field = _field(histogram.labels, labels)
    in_bucket: dict[int, int] = {}
    for value in values:
        bucket = bisect_left(histogram.buckets, value)  # len(buckets) is +Inf
        in_bucket[bucket] = in_bucket.get(bucket, 0) + 1
    with _commands(redis) as pipe:
        for bucket, samples in in_bucket.items():
            pipe.hincrby(KEY + histogram.name, json.dumps([field, bucket]), samples)
        pipe.hincrbyfloat(KEY + histogram.name, json.dumps([field, "sum"]), sum(values))


def flush(pipe: Pipeline) -> None:
    """Send what was recorded on `pipe`; a Redis that does not answer loses the samples."""
    try:
        pipe.execute()
    except RedisError as exc:
        log.debug("metrics not recorded, Redis unreachable: %s", exc)


class _commands:
    """Queue commands on the caller's pipeline, or on one of our own sent at the end."""

    def __init__(self, redis: Redis | Pipeline) -> None:
        self.owned = not isinstance(redis, Pipeline)
        self.pipe: Pipeline = redis if isinstance(redis, Pipeline) else redis.pipeline(False)

    def __enter__(self) -> Pipeline:
        return self.pipe

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            flush(self.pipe)


def _field(names: tuple[str, ...], labels: dict[str, str]) -> str:
    if set(labels) != set(names):
        raise ValueError(f"expected labels {names}, got {sorted(labels)}")
    return json.dumps([str(labels[n]) for n in names])


def counter_values(redis: Redis, counter: Counter) -> dict[tuple[str, ...], float]:
    """Every label combination seen so far, with its total."""
    stored = redis.hgetall(KEY + counter.name)
    return {tuple(json.loads(_text(f))): float(v) for f, v in stored.items()}


def histogram_values(redis: Redis, histogram: Histogram) -> dict[tuple[str, ...], HistogramValue]:
    stored: dict[str, dict[Any, float]] = {}
    for raw, value in redis.hgetall(KEY + histogram.name).items():
        field, part = json.loads(_text(raw))
        stored.setdefault(field, {})[part] = float(value)
    values = {}
    for field, parts in stored.items():
        bounds = [*(_bound(b) for b in histogram.buckets), "+Inf"]
        running, cumulative = 0.0, []
        for index, bound in enumerate(bounds):
            running += parts.get(index, 0.0)
            cumulative.append((bound, running))
        values[tuple(json.loads(field))] = HistogramValue(cumulative, running, parts.get("sum", 0))
    return values


def _bound(value: float) -> str:
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
