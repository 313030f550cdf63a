"""Real processes for the end-to-end and fault tests: `python -m workers` and a private Redis.

Workers run in their own session (process group), so killing one takes its RQ scheduler child
with it, as a crash of the machine or container would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

from helpline.devredis import server_binary
from tests.processes import ROOT, free_port, process_env, stop_processes

__all__ = ["ROOT", "RedisServer", "Workers", "free_port", "process_env", "wait_until"]


@dataclass
class Workers:
    """A set of `python -m workers` processes that can be killed and restarted one by one."""

    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _started: int = 0

    def start(self, count: int = 1) -> None:
        for _ in range(count):
            self._started += 1
            log = open(self.log_dir / f"worker-{self._started}.log", "wb")  # noqa: SIM115
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "workers"],
                    env=self.env,
                    cwd=ROOT,
                    start_new_session=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()  # the child holds its own copy

    def wait_ready(self, redis_url: str, timeout: float = 30) -> None:
        """Until every running worker has registered with RQ and listens on its queues."""
        redis = Redis.from_url(redis_url)
        wait_until(
            lambda: len(Worker.all(connection=redis)) >= self.running(),
            timeout,
            "workers did not start",
        )

    def kill(self, count: int, connected_from: Collection[int] | None = None) -> None:
        """SIGKILL `count` running workers and their children: no clean-up of any kind. With
        `connected_from`, only workers holding a TCP connection from one of those ports."""
        victims = [
            p
            for p in self.processes
            if p.poll() is None and (connected_from is None or _ports(p.pid) & set(connected_from))
        ][:count]
        assert len(victims) == count, "fewer workers running than asked to kill"
        for process in victims:
            os.killpg(process.pid, signal.SIGKILL)
        for process in victims:
            process.wait(timeout=10)
            self.processes.remove(process)

    def running(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)

    def stop(self) -> None:
        stop_processes(self.processes)
        self.processes.clear()

    def logs(self, last_lines: int = 40) -> str:
        """The end of each worker's log, for a failing test's report."""
        parts = []
        for path in sorted(self.log_dir.glob("worker-*.log")):
            lines = path.read_text(errors="replace").splitlines()[-last_lines:]
            parts.append(f"== {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)


class RedisServer:
    """A redis-server of our own on a loopback port, with no persistence: a crash loses all.

    The machine's shared Redis is never stopped; tests that take Redis away use this one.
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(server_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--maxmemory-policy",
            "noeviction",
            "--appendonly",
            "no",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, timeout, "private redis-server did not start")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {self.directory / 'redis.log'}")
        try:
            return bool(Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except RedisError:
            return False

    def crash(self) -> None:
        """SIGKILL: everything in memory is gone, as in a crash or a restart without persistence."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    stop = crash


def wait_until(check: Callable[[], bool], timeout: float, message: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(message)


def _ports(pid: int) -> set[int]:
    """The local ports of the TCP connections a process (or its children) holds."""
    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
        return {c.laddr.port for p in family for c in p.net_connections(kind="tcp") if c.laddr}
    except psutil.NoSuchProcess:
        return set()
