"""GET /metrics for Prometheus, behind a bearer token (METRICS_TOKEN; unset, /metrics is 404).

Gauges are read at scrape time from the database (the queue) and Redis (RQ's queues and
registries); counters and the webhook histogram were added up in Redis by every process
(helpline.telemetry). So every web process answers for the whole deployment, and an operator
scrapes any one of them.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import cast

from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from helpline import request_log, telemetry, web
from helpline.services.queue_stats import queue_depth
from workers import queues

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
# The text format every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WEBHOOKS = {"webhooks.inbound_message": "messages", "webhooks.message_status": "status"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_start_clock)
    app.after_request(_time_webhook)


def _start_clock() -> None:
    g.metrics_started = request.environ.get(request_log.STARTED) or time.perf_counter()


def _time_webhook(response: Response) -> Response:
    webhook = _untimed_webhook()
    if webhook is not None:
        pipe = web.redis().pipeline(transaction=False)
        elapsed = time.perf_counter() - g.pop("metrics_started")
        record_webhooks(pipe, webhook, response.status_code, [elapsed])
        telemetry.flush(pipe)
    return response


def _untimed_webhook() -> str | None:
    """This request's webhook, when it is one whose time is not recorded yet."""
    return WEBHOOKS.get(request.endpoint or "") if "metrics_started" in g else None


def record_webhooks(pipe: Pipeline, webhook: str, code: int, elapsed: Sequence[float]) -> None:
    """Queue the times of webhooks answered alike, and their count, on `pipe` (the inbound
    webhooks stored together send theirs with their texts' push, one round trip to Redis)."""
    telemetry.observe(pipe, telemetry.WEBHOOK_DURATION, elapsed, webhook=webhook)
    telemetry.count(pipe, telemetry.WEBHOOK_REQUESTS, len(elapsed), webhook=webhook, code=str(code))


def webhook_started() -> float:
    """When this request began, for its webhook's time (its clock starts before any hook)."""
    return cast(float, g.metrics_started)


def webhook_recorded() -> None:
    """This request's webhook time was recorded with others' (`record_webhooks`)."""
    g.pop("metrics_started", None)


@bp.get("/metrics")
def scrape() -> Response:
    expected = web.settings().metrics_token
    if expected is None:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        abort(Response("a valid metrics bearer token is required\n", 403, mimetype="text/plain"))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(web.db(), web.redis(), web.now()))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})


class Snapshot:
    """One scrape's worth of metrics; a source that does not answer is reported as down."""

    def __init__(self, session: Session, redis: Redis, now: datetime) -> None:
        self.session, self.redis, self.now = session, redis, now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "helpline_backend_up", "Whether the scrape could read a backend", labels=["backend"]
        )
        for backend, read in (("database", self._database), ("redis", self._redis)):
            try:
                families = list(read())
            except (SQLAlchemyError, RedisError) as exc:
                log.warning("metrics: %s unreadable (%s)", backend, exc.__class__.__name__)
                families = []
            up.add_metric([backend], 1 if families else 0)
            yield from families
        yield up

    def _database(self) -> Iterator[Metric]:
        depth = queue_depth(self.session, self.now)
        waiting = GaugeMetricFamily(
            "helpline_queued_conversations",
            "Conversations waiting for a supporter, by priority",
            labels=["priority"],
        )
        longest = GaugeMetricFamily(
            "helpline_longest_wait_seconds",
            "How long the longest-waiting queued conversation has waited, by priority",
            labels=["priority"],
        )
        for priority, count in depth.waiting.items():
            waiting.add_metric([priority], count)
            longest.add_metric([priority], depth.longest_wait_s[priority])
        yield waiting
        yield longest

    def _redis(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "helpline_rq_jobs",
            "RQ jobs by queue and state (failed: RQ's failed registry)",
            labels=["queue", "state"],
        )
        for (name, state), count in queues.job_counts(self.redis).items():
            jobs.add_metric([name, state], count)
        waiting = GaugeMetricFamily(
            "helpline_inbound_texts_waiting",
            "Stored inbound texts handed to the workers and not taken yet (the drain lists)",
        )
        waiting.add_metric([], queues.inbound_waiting(self.redis))
        to_send = GaugeMetricFamily(
            "helpline_outbound_texts_waiting",
            "Texts made and handed to the send drain, not taken yet (its list)",
        )
        to_send.add_metric([], queues.outbound_waiting(self.redis))
        families: list[Metric] = [jobs, waiting, to_send]
        for counter in telemetry.COUNTERS:
            family = CounterMetricFamily(counter.name, counter.help, labels=list(counter.labels))
            totals = telemetry.counter_values(self.redis, counter)
            for labels in sorted(totals):
                family.add_metric(list(labels), totals[labels])
            families.append(family)
        for histogram in telemetry.HISTOGRAMS:
            found = HistogramMetricFamily(
                histogram.name, histogram.help, labels=list(histogram.labels)
            )
            values = telemetry.histogram_values(self.redis, histogram)
            for labels in sorted(values):
                found.add_metric(list(labels), values[labels].cumulative, values[labels].sum)
            families.append(found)
        return iter(families)
