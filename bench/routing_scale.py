"""Part 4: one routing decision (load, decide, save: `assignment.route_queue`, as the workers'
jobs run it) as the numbers of supporters and of waiting conversations grow.

The state is a busy line: every supporter on shift holds their limit (3) but one, who just
closed a conversation; the queue waits. The decision gives that supporter the head of the
queue. Before each decision (not timed) one held conversation closes and one texter joins
the queue, so both sizes stay put.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, text, update

from bench import profiles, seed
from bench.stack import Stack
from helpline import models
from helpline.db import transaction
from helpline.models import Conversation, utcnow
from helpline.services import assignment

LIMIT = 3


@dataclass(frozen=True)
class Sizes:
    supporters: tuple[int, ...]
    queued: tuple[int, ...]
    decisions: int
    budget_s: float
    profile_s: float


QUICK = Sizes((10, 100), (10, 100), decisions=3, budget_s=5, profile_s=2)
FULL = Sizes((10, 100, 1000, 10000), (10, 100, 1000, 10000), 15, budget_s=30, profile_s=10)
# The state of the other axis while one grows.
BASE = 10


def run(stack: Stack, quick: bool) -> dict[str, object]:
    sizes = QUICK if quick else FULL
    stack.fresh()
    by_supporters = {str(n): measure(stack, n, BASE, sizes) for n in sizes.supporters}
    by_queued = {str(n): measure(stack, BASE, n, sizes) for n in sizes.queued}
    biggest = max(sizes.supporters)
    found: dict[str, Any] = {
        "backend": stack.backend,
        "by_supporters": by_supporters,
        "by_queued": by_queued,
        "supporters_ratio": _ratio(by_supporters),
        "queued_ratio": _ratio(by_queued),
    }
    found["explain"] = explain(stack)
    found["profile"] = profile(stack, biggest, sizes)
    return found


def _ratio(results: dict[str, dict[str, float]]) -> float | None:
    ordered = sorted(results, key=int)
    first, last = results[ordered[0]]["median_ms"], results[ordered[-1]]["median_ms"]
    return round(last / first, 1) if first else None


def populate(stack: Stack, supporters: int, queued: int) -> list[int]:
    """The busy line; the ids of held conversations, in a random order, to close one by one."""
    with transaction(stack.settings.database_url) as session:
        for table in (
            models.ConversationEvent,
            models.Message,
            Conversation,
            models.Texter,
            models.Shift,
            models.ApiToken,
            models.User,
        ):
            session.execute(delete(table))
    now = utcnow()
    with transaction(stack.settings.database_url) as session:
        ids = seed.supporters(session, supporters, LIMIT, now)
        seed.conversations(session, seed.texters(session, supporters * LIMIT, now), now, ids)
        seed.conversations(session, seed.texters(session, queued, now), now)
    with transaction(stack.settings.database_url) as session:
        held = list(session.scalars(select(Conversation.id).where(Conversation.status == "active")))
    random.shuffle(held)
    return held


def decide_once(stack: Stack, held: list[int]) -> tuple[float, int]:
    """Free one place and queue one texter (untimed), then one routing pass: its seconds and
    how many it assigned."""
    now = utcnow()
    with transaction(stack.settings.database_url) as session:
        session.execute(
            update(Conversation).where(Conversation.id == held.pop()).values(status="closed")
        )
        seed.conversations(session, seed.texters(session, 1, now), now)
    began = time.perf_counter()
    with transaction(stack.settings.database_url) as session:
        texts = assignment.route_queue(session, utcnow())
    return time.perf_counter() - began, len(texts)


def measure(stack: Stack, supporters: int, queued: int, sizes: Sizes) -> dict[str, float]:
    held = populate(stack, supporters, queued)
    decide_once(stack, held)  # warm: connections, caches
    times, assigned = [], 0
    began = time.monotonic()
    while len(times) < sizes.decisions and held:
        seconds, count = decide_once(stack, held)
        times.append(seconds)
        assigned += count
        if time.monotonic() - began > sizes.budget_s and len(times) >= 2:
            break
    ordered = sorted(t * 1000 for t in times)
    return {
        "decisions": len(times),
        "assigned": assigned,
        "median_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


EXPLAINED = {
    "queued": "SELECT * FROM conversations WHERE status = 'queued'",
    "available": "SELECT * FROM users WHERE is_active AND status = 'available'",
    "loads": (
        "SELECT supporter_id, count(*) FROM conversations WHERE status = 'active' "
        "AND supporter_id IS NOT NULL GROUP BY supporter_id"
    ),
}


def explain(stack: Stack) -> dict[str, list[str]]:
    """The plans of the gathering queries, on the state the last measurement left."""
    prefix = "EXPLAIN ANALYZE " if stack.backend == "postgresql" else "EXPLAIN QUERY PLAN "
    found = {}
    with transaction(stack.settings.database_url) as session:
        for name, sql in EXPLAINED.items():
            rows = session.execute(text(prefix + sql)).all()
            found[name] = [" | ".join(str(c) for c in row) for row in rows]
    return found


def profile(stack: Stack, supporters: int, sizes: Sizes) -> dict[str, object]:
    """py-spy on this process while it makes decisions with the most supporters."""
    held = populate(stack, supporters, BASE)
    out = stack.run_dir / f"profile-routing-{stack.backend}.txt"
    spy = profiles.start(os.getpid(), sizes.profile_s, out)
    time.sleep(0.5)  # let py-spy attach
    deadline = time.monotonic() + sizes.profile_s
    while time.monotonic() < deadline and held:
        decide_once(stack, held)
    return profiles.finish(spy, out) | {"supporters": supporters}
