"""The processes a benchmark runs against, started the way the tests start them: the Procfile's
`release`, `web` (gunicorn with gunicorn.conf.py) and `python -m workers`, on one database and
one Redis, with the fake Twilio on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import requests
from redis import Redis

from helpline.config import DEFAULT_WEB_THREADS, Settings, parse_send_rates
from helpline.db import get_engine
from tests.e2e.processes import Workers
from tests.fakes.twilio_api import FakeTwilioServer
from tests.processes import Service, wait_until

PG_URL = "postgresql://postgres@127.0.0.1:5432/helpline_bench"
REDIS_URL = "redis://127.0.0.1:6379/5"
# Twilio's per-number pace (1 text a second on a long code) is not what is measured here.
SEND_RATES = "long_code=10000"
BARE = "gunicorn -c gunicorn.conf.py bench.bare:app"


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def reset_database(url: str) -> None:
    """An empty database at `url`: PostgreSQL's created if missing and its schema dropped;
    SQLite's file removed. This process's pooled connections to it are closed first."""
    driver_url = Settings.from_env({"DATABASE_URL": url}).database_url
    for writes in (True, False):
        get_engine(driver_url, writes).dispose()
    if not is_postgresql(url):
        path = Path(urlsplit(url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    name = urlsplit(plain).path.lstrip("/")
    with psycopg.connect(plain.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is None
        ):
            admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


class BenchService(Service):
    """tests.processes.Service, able to run the bare endpoint in place of `web`."""

    def command(self, name: str) -> str:
        return BARE if name == "bare" else super().command(name)

    @contextmanager
    def serving(self, name: str = "web") -> Iterator[subprocess.Popen[bytes]]:
        """`web` (or `bare`) on the first port, answering, until the block ends."""
        process = self.start(name, self.ports[0])
        try:
            wait_until(
                lambda: requests.get(self.public_url + "/api/v1/health", timeout=5).ok,
                60,
                f"{name} answering",
            )
            yield process
        finally:
            self.stop()
            self.processes.clear()


@dataclasses.dataclass
class Stack:
    """One backend: its settings, its web service and its worker pool."""

    settings: Settings
    service: BenchService
    run_dir: Path

    @classmethod
    def create(
        cls, database_url: str, redis_url: str, twilio: FakeTwilioServer, run_dir: Path
    ) -> Stack:
        settings = Settings(
            database_url=Settings.from_env({"DATABASE_URL": database_url}).database_url,
            redis_url=redis_url,
            secret_key="bench-secret-key",
            public_url="http://127.0.0.1",
            twilio_account_sid=twilio.fake.account_sid,
            twilio_auth_token=twilio.fake.auth_token,
            twilio_api_base_url=twilio.base_url,
            instance_path=run_dir / "instance",
            send_rates=parse_send_rates(SEND_RATES),
        )
        extra = {
            "WEB_CONCURRENCY": "2",
            "WEB_THREADS": str(DEFAULT_WEB_THREADS),
            "TWILIO_SEND_RATES": SEND_RATES,
            "LOG_FORMAT": "json",
        }
        service = BenchService(settings, webs=1, logs=run_dir, extra_env=extra)
        settings = dataclasses.replace(settings, public_url=service.public_url)
        service.settings = settings
        return cls(settings, service, run_dir)

    @property
    def backend(self) -> str:
        return "postgresql" if is_postgresql(self.settings.database_url) else "sqlite"

    def fresh(self) -> None:
        """An empty, migrated database and an empty Redis db."""
        reset_database(self.settings.database_url)
        self.service.release()
        Redis.from_url(self.settings.redis_url).flushdb()

    def workers(self) -> Workers:
        env = self.service.env(self.service.ports[0])
        env.pop("PORT", None)
        return Workers(env, self.run_dir)


def rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process) since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def process_cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) these processes have used so far."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def servers_cpu_s(name: str) -> float:
    """CPU seconds used so far by the running processes called `name` (`postgres`: the
    server and its backends; `redis-server`). A backend that exited took its share with it:
    a lower bound."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.info["name"] == name and times is not None:
            total += times.user + times.system
    return total


def gunicorn_workers(process: subprocess.Popen[bytes]) -> list[int]:
    """The pids of gunicorn's worker processes under `process` (the master, or a shell)."""
    found = psutil.Process(process.pid).children(recursive=True)
    return [p.pid for p in found if p.children() == [] and "gunicorn" in " ".join(p.cmdline())]


def machine() -> dict[str, object]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cores": os.cpu_count(), "cpu": model}
