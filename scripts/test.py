"""Run the whole suite on the embedded defaults (SQLite + embedded Redis), then on PostgreSQL
and the machine's Redis when they answer (always in CI, where they must).

Environment: TEST_DATABASE_URL / TEST_REDIS_URL pick the second backend (defaults: the local
PostgreSQL's `helpline_test` database and Redis db 15). Extra arguments go to pytest.

The browser tests drive the system's chromium (never a downloaded browser): installed here with
apt-get when missing and running as root, as CI does; otherwise they skip and say so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import psycopg

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/helpline_test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def ensure_database(url: str) -> None:
    """Create the test database on first use."""
    name = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def pytest(extra_env: dict[str, str], args: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    env.update(extra_env)
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


STATIC_CHECKS = (
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "--quiet", "."],
    ["mypy"],
    ["lint-imports", "--no-cache"],
)


def static_checks() -> int:
    """Lint, format, types and the import contract: `make check`, run first because it is fast."""
    bin_dir = os.path.dirname(sys.executable)
    for command in STATIC_CHECKS:
        if subprocess.call([os.path.join(bin_dir, command[0]), *command[1:]]) != 0:
            print(f"== static check failed: {' '.join(command)}", flush=True)
            return 1
    return 0


def has_browser() -> bool:
    return bool(os.environ.get("CHROMIUM_PATH") or shutil.which("chromium"))


def ensure_browser() -> bool:
    """Install Debian's chromium for the browser tests when it is missing and we may."""
    if has_browser():
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("== installing chromium for the browser tests (apt-get)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            if subprocess.call(command, env=env) != 0:
                break
    if has_browser():
        return True
    print("== chromium is not installed: the browser tests will be skipped", flush=True)
    return False


def main(args: list[str]) -> int:
    if static_checks():
        return 1
    if not ensure_browser() and os.environ.get("CI"):
        print(
            "CI: chromium could not be installed; the browser tests are required here", flush=True
        )
        return 1
    print("== suite on the embedded defaults: SQLite + embedded Redis", flush=True)
    failed = pytest({}, args)
    if reachable(PG_URL, 5432) and reachable(REDIS_URL, 6379):
        ensure_database(PG_URL)
        print("== suite on PostgreSQL + Redis server", flush=True)
        failed = pytest({"TEST_DATABASE_URL": PG_URL, "TEST_REDIS_URL": REDIS_URL}, args) or failed
    elif os.environ.get("CI"):
        print("CI: PostgreSQL or Redis is not reachable; both are required here", flush=True)
        return 1
    else:
        print("== PostgreSQL or Redis server not reachable: skipped that pass", flush=True)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
