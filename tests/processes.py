"""The service as real processes from the Procfile: release once, then web (one or several, each
on its own port) and a worker, sharing the tests' database and Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import urlsplit

import psutil
import requests

from helpline.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of the Procfile's processes for `settings`."""
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": settings.public_url,
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid or "",
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token or "",
        "TWILIO_API_BASE_URL": settings.twilio_api_base_url,
        "HELPLINE_INSTANCE_PATH": str(settings.instance_path),
        **extra,
    }


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    return [child.pid for child in psutil.Process(pid).children()]


def gone(pid: int) -> bool:
    """`pid` has ended (a zombie no one reaped counts as ended)."""
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True


def wait_until(check: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout} s")


def reachable(url: str, default_port: int) -> bool:
    """Whether something answers at the host and port of `url`."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def stop_processes(processes: list[subprocess.Popen[bytes]], grace_s: float = 30) -> None:
    """SIGTERM each process's group, then SIGKILL any still running after `grace_s`, as a
    platform does; said in the test's report, since a process that cannot stop in time is
    worth a look even when nothing was lost, and one left running would serve later tests."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            print(f"process {process.pid} still running {grace_s:.0f} s after SIGTERM: killed")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class Service:
    """`with Service(settings, webs=2, logs=tmp_path) as service:` then `service.urls`.

    PUBLIC_URL is the first web's address: Twilio signs for one address, whichever process
    the request reaches.
    """

    def __init__(
        self,
        settings: Settings,
        webs: int = 1,
        logs: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.extra_env = extra_env or {}
        self.ports = [free_port() for _ in range(webs)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self._outputs: list[BinaryIO] = []

    @property
    def public_url(self) -> str:
        return self.urls[0]

    def env(self, port: int) -> dict[str, str]:
        defaults = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "PUBLIC_URL": self.public_url,
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "8",
        }
        return process_env(self.settings, **{**defaults, **self.extra_env})

    def start(self, name: str, port: int) -> subprocess.Popen[bytes]:
        output: BinaryIO | int = subprocess.DEVNULL
        if self.logs is not None:
            output = (self.logs / f"{name}-{port}.log").open("ab")
            self._outputs.append(output)
        command = self.command(name)
        if name == "worker":
            # The shell becomes the worker, so stopping it waits for the worker itself: the
            # shell died at once on SIGTERM while the worker finished its last job, and the
            # next test emptied Redis under that job's result. (A web's stop is not waited
            # for here: a test that needs gunicorn's own exit waits for it, `gone`.)
            command = f"exec {command}"
        process = subprocess.Popen(
            command,
            shell=True,
            env=self.env(port),
            cwd=ROOT,
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def command(self, name: str) -> str:
        """The shell command that runs process type `name`: the Procfile's line."""
        return procfile()[name]

    def release(self) -> None:
        """The Procfile's release step (migrations), run to the end."""
        subprocess.run(
            self.command("release"),
            shell=True,
            env=self.env(self.ports[0]),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )

    def __enter__(self) -> Service:
        self.release()
        try:
            for port in self.ports:
                self.start("web", port)
            self.start("worker", self.ports[0])
            for url in self.urls:
                wait_until(
                    lambda url=url: requests.get(url + "/api/v1/health").status_code == 200,
                    30,
                    f"{url} answering",
                )
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        stop_processes(self.processes)
        for output in self._outputs:
            output.close()
