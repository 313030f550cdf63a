"""Part 1: the inbound webhook flat out (32 connections, closed loop) against a bare Flask
endpoint under the same gunicorn settings; and its latency at half its own maximum rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select

from bench import load, profiles
from bench.stack import Stack, gunicorn_workers, machine_busy_s, process_cpu_s, rss_mb
from helpline.db import session_factory
from helpline.models import Message

CONNECTIONS = 32
# Distinct requests made per second of load: more than the webhook can take on this machine.
PER_SECOND = 2500


@dataclass(frozen=True)
class Sizes:
    seconds: float
    warmup_s: float
    profile_s: float


def stored(stack: Stack) -> int:
    session = session_factory(stack.settings.database_url, writes=False)()
    try:
        query = select(func.count()).select_from(Message).where(Message.direction == "in")
        return int(session.scalar(query) or 0)
    finally:
        session.close()


def webhook(stack: Stack, sizes: Sizes) -> dict[str, object]:
    """The real webhook, no workers running (its jobs wait in Redis): flat out, then at half
    that rate, then once more under py-spy."""
    stack.fresh()
    url = stack.settings.public_url + "/twilio/messages"
    files = stack.run_dir

    def pool(name: str, seconds: float) -> Path:
        count = int(seconds * PER_SECOND) + 500
        return load.write_requests(files / f"{name}-{stack.backend}.txt", stack.settings, count)

    warm, flat = pool("warm", sizes.warmup_s), pool("flat", sizes.seconds)
    half_pool, profile_pool = pool("half", sizes.seconds / 2), pool("profile", sizes.profile_s)
    with stack.service.serving("web") as web:
        load.send(url, warm, CONNECTIONS, sizes.warmup_s)
        before = stored(stack)
        full, cpu = _send_counting_cpu(url, flat, sizes.seconds, gunicorn_workers(web))
        kept = stored(stack) - before
        # Each connection pauses so that, together, they offer half the maximum rate.
        pause_ms = 1000 * CONNECTIONS / max(full.rate / 2, 1)
        half = load.send(url, half_pool, CONNECTIONS, sizes.seconds / 2, pause_ms)
        pids = gunicorn_workers(web)
        out = files / f"profile-webhook-{stack.backend}.txt"
        spy = profiles.start(pids[0], sizes.profile_s, out)
        load.send(url, profile_pool, CONNECTIONS, sizes.profile_s)
        profile = profiles.finish(spy, out)
        memory = {"web_worker_rss_mb": rss_mb(pids[0]), "web_master_rss_mb": rss_mb(web.pid)}
    Redis.from_url(stack.settings.redis_url).flushdb()
    return {
        "backend": stack.backend,
        "flat_out": full.as_dict() | {"stored": kept} | cpu,
        "half_rate": half.as_dict() | {"offered_rate": round(full.rate / 2, 1)},
        "profile": profile,
        "memory": memory,
    }


def bare(stack: Stack, sizes: Sizes) -> dict[str, object]:
    """The ceiling: bare Flask under the same gunicorn settings, same connections and length."""
    url = stack.settings.public_url + "/twilio/messages"
    requests_file = load.write_requests(stack.run_dir / "bare.txt", stack.settings, 2000)
    with stack.service.serving("bare") as web:
        load.send(url, requests_file, CONNECTIONS, sizes.warmup_s)
        result, cpu = _send_counting_cpu(url, requests_file, sizes.seconds, gunicorn_workers(web))
    return result.as_dict() | cpu


def _send_counting_cpu(
    url: str, requests_file: Path, seconds: float, web_pids: list[int]
) -> tuple[load.LoadResult, dict[str, float]]:
    """Flat out, with the CPU time each request cost: the whole machine's (the load generator,
    the database and Redis included) and the web processes' alone."""
    machine, web = machine_busy_s(), process_cpu_s(web_pids)
    result = load.send(url, requests_file, CONNECTIONS, seconds)
    machine, web = machine_busy_s() - machine, process_cpu_s(web_pids) - web
    answered = max(result.requests, 1)
    return result, {
        "machine_cpu_ms_per_request": round(1000 * machine / answered, 3),
        "web_cpu_ms_per_request": round(1000 * web / answered, 3),
    }
