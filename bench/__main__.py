"""`python -m bench [--quick]`: every benchmark against real processes; a JSON result file,
a Markdown table (printed, and written beside it)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis

from bench import endtoend, report, routing_scale, throughput, webhook
from bench.stack import PG_URL, REDIS_URL, Stack, machine
from helpline.devredis import EmbeddedRedis
from tests.fakes.twilio_api import FakeTwilioServer
from tests.processes import reachable
from workers import runtime

PARTS = ("webhook", "e2e", "workers", "routing")


@contextmanager
def redis_server(url: str | None, run_dir: Path) -> Iterator[str]:
    """The given Redis, else the machine's (db 5), else an embedded one of our own."""
    if url or reachable(REDIS_URL, 6379):
        yield url or REDIS_URL
        return
    server = EmbeddedRedis(run_dir / "redis", persist=False).start()
    try:
        yield server.url
    finally:
        server.stop()


def versions(redis_url: str, pg_url: str | None) -> dict[str, str]:
    found = {"python": platform.python_version()}
    found["redis"] = str(Redis.from_url(redis_url).info("server")["redis_version"])
    if pg_url:
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres") as connection:
            row = connection.execute("SHOW server_version").fetchone()
            found["postgresql"] = str(row[0]) if row else "?"
    return found


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds per part")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS)
    )
    parser.add_argument("--postgres-url", default=PG_URL, help="PostgreSQL to use when reachable")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--redis-url", help=f"default {REDIS_URL} when reachable, else embedded")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        sys.exit(f"unknown parts: {', '.join(sorted(unknown))}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = (args.out / stamp).resolve()
    run_dir.mkdir(parents=True)
    pg_url = (
        None if args.no_postgres or not reachable(args.postgres_url, 5432) else args.postgres_url
    )
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(args.redis_url, run_dir))
        twilio = stack.enter_context(FakeTwilioServer())
        results: dict[str, Any] = {
            "mode": "quick" if args.quick else "full",
            "started_at": stamp,
            "command": "python -m bench" + (" --quick" if args.quick else ""),
            "machine": machine() | versions(redis_url, pg_url),
            "parts": {},
        }
        stacks = [
            Stack.create(url, redis_url, twilio, run_dir / name)
            for name, url in (("postgresql", pg_url), ("sqlite", _sqlite(run_dir)))
            if url
        ]
        for stack_ in stacks:
            stack_.run_dir.mkdir(parents=True, exist_ok=True)
        for part in parts:
            began = time.monotonic()
            print(f"== {part}", flush=True)
            results["parts"][part] = RUNNERS[part](stacks, twilio, args.quick)
            results["parts"][part]["seconds"] = round(time.monotonic() - began, 1)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = report.markdown(results)
    (run_dir / "results.md").write_text(table)
    print(table)
    print(f"results in {run_dir}")
    return 0


def _sqlite(run_dir: Path) -> str:
    return f"sqlite:///{run_dir / 'sqlite' / 'bench.sqlite3'}"


def run_webhook(stacks: list[Stack], twilio: FakeTwilioServer, quick: bool) -> dict[str, Any]:
    sizes = webhook.Sizes(seconds=2, warmup_s=1, profile_s=1) if quick else webhook.Sizes(20, 3, 10)
    found: dict[str, Any] = {}
    # The ceiling is measured before, between and after the webhooks, and each webhook is
    # compared with the best of those runs: the machine's speed drifts within minutes, and
    # one slow run of the bare endpoint would flatter the webhook.
    stacks[0].fresh()  # the web process's start-up check needs its database, bare or not
    ceilings = [webhook.bare(stacks[0], sizes)]
    for stack in stacks:
        runtime.configure(stack.settings)
        found[stack.backend] = webhook.webhook(stack, sizes)
        ceilings.append(webhook.bare(stack, sizes))
    found["bare"] = max(ceilings, key=lambda run: run["rate"])
    found["bare_rates"] = [run["rate"] for run in ceilings]
    return found


def run_e2e(stacks: list[Stack], twilio: FakeTwilioServer, quick: bool) -> dict[str, Any]:
    runtime.configure(stacks[0].settings)
    return endtoend.run(stacks[0], twilio.fake, quick)


def run_workers(stacks: list[Stack], twilio: FakeTwilioServer, quick: bool) -> dict[str, Any]:
    runtime.configure(stacks[0].settings)
    return throughput.run(stacks[0], twilio.fake, quick)


def run_routing(stacks: list[Stack], twilio: FakeTwilioServer, quick: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for stack in stacks:
        runtime.configure(stack.settings)
        found[stack.backend] = routing_scale.run(stack, quick)
    return found


RUNNERS: dict[str, Callable[[list[Stack], FakeTwilioServer, bool], dict[str, Any]]] = {
    "webhook": run_webhook,
    "e2e": run_e2e,
    "workers": run_workers,
    "routing": run_routing,
}

if __name__ == "__main__":
    sys.exit(main())
