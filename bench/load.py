"""Load on the webhook: signed inbound texts, each distinct. Flat out (closed loop) by wrk, or
by Python threads where wrk cannot be had; at a chosen rate, open loop, by Python threads."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from helpline.config import Settings
from tests.e2e.traffic import inbound_form
from tests.support import sign

LUA = Path(__file__).with_name("webhook.lua")
WRK_THREADS = 2
_texters = itertools.count(1)


def texter() -> str:
    """A texter number never used before in this run."""
    return f"+1555{next(_texters):07d}"


def write_requests(path: Path, settings: Settings, count: int, body: str = "hello") -> Path:
    """`count` signed webhooks from new texters, one a line: signature, space, form."""
    url = settings.public_url + "/twilio/messages"
    with path.open("w") as out:
        for _ in range(count):
            form = inbound_form(settings, texter(), body)
            out.write(f"{sign(settings.webhook_auth_token, url, form)} {urlencode(form)}\n")
    return path


@dataclass(frozen=True)
class LoadResult:
    generator: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # Open loop only: how late the 99th percentile send started after its moment (no
    # connection free, or the generator busy), and its threads' CPU per request.
    late_p99_ms: float | None = None
    cpu_ms_per_request: float | None = None

    @property
    def rate(self) -> float:
        return round(self.requests / self.seconds, 1) if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "rate": self.rate}


def ensure_wrk() -> str | None:
    """wrk, installed with apt-get when missing and running as root (as scripts/test.py
    installs chromium); None when it cannot be had."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.call(command, env=env, stdout=subprocess.DEVNULL) != 0:
            break
    return shutil.which("wrk")


def send(
    url: str, requests_file: Path, connections: int, seconds: float, mean_delay_ms: float = 0
) -> LoadResult:
    """POST the file's requests to `url` for `seconds` over `connections` kept-alive
    connections: flat out, or each connection pausing `mean_delay_ms` on average."""
    wrk = ensure_wrk()
    if wrk is None:
        return python_load(url, requests_file, connections, seconds, mean_delay_ms)
    return wrk_load(wrk, url, requests_file, connections, seconds, mean_delay_ms)


def wrk_load(
    wrk: str, url: str, requests_file: Path, connections: int, seconds: float, mean_delay_ms: float
) -> LoadResult:
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "15s",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
        str(WRK_THREADS),
    ]
    env = {**os.environ, "BENCH_MEAN_DELAY_MS": str(mean_delay_ms)}
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("BENCH_RESULT "))
    found = json.loads(line.removeprefix("BENCH_RESULT "))
    errors = sum(found[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        "wrk",
        found["requests"],
        found["duration_us"] / 1e6,
        errors,
        found["p50_us"] / 1000,
        found["p90_us"] / 1000,
        found["p99_us"] / 1000,
        found["max_us"] / 1000,
    )


def python_load(
    url: str, requests_file: Path, connections: int, seconds: float, mean_delay_ms: float
) -> LoadResult:
    """The fallback generator: a thread per connection. On a small machine it competes with
    the server for CPU, so its numbers are a floor, not the ceiling (the report says which
    generator ran)."""
    lines = requests_file.read_text().splitlines()
    parts = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def connection(offset: int) -> None:
        client = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)
        for line in itertools.islice(itertools.cycle(lines), offset, None, connections):
            if time.monotonic() >= deadline:
                return
            if mean_delay_ms:
                time.sleep(_exponential(mean_delay_ms) / 1000)
            started = time.monotonic()
            failed = not _post(client, parts.path, line)
            with lock:
                latencies.append(time.monotonic() - started)
                errors[0] += failed

    began = time.monotonic()
    threads = [threading.Thread(target=connection, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize("python", latencies, time.monotonic() - began, errors[0])


def _post(client: http.client.HTTPConnection, path: str, line: str) -> bool:
    """POST one line of a requests file ("<signature> <form>"); whether it was answered with
    a 2xx. A connection idle longer than gunicorn's keep-alive was closed by the server: the
    request goes again on a new one (the webhook stores a MessageSid once)."""
    signature, body = line.split(" ", 1)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    for _ in range(2):
        try:
            client.request("POST", path, body=body, headers=headers)
            answer = client.getresponse()
            answer.read()
        except OSError:
            client.close()  # connects again on the next request
            continue
        return answer.status < 300
    return False


def _exponential(mean: float) -> float:
    return random.expovariate(1 / mean)


def open_loop(
    url: str, requests_file: Path, rate: float, seconds: float, connections: int
) -> LoadResult:
    """`rate * seconds` requests at moments drawn at random over `seconds` (the arrivals of a
    Poisson process with that many in the window), each sent at its moment whatever became
    of the ones before (open loop) on whichever of `connections` kept-alive connections is
    free. wrk has no such mode: pausing each connection between requests offered 50 to 60%
    more than asked. How late sends started is reported; while it stays at a few
    milliseconds, the arrivals were those asked."""
    lines = requests_file.read_text().splitlines()
    count = round(rate * seconds)
    if count > len(lines):
        raise ValueError(f"{requests_file.name}: {len(lines)} requests, {count} wanted")
    draw = random.Random(f"{rate}/{seconds}")
    moments = sorted(draw.uniform(0, seconds) for _ in range(count))
    schedule = iter(zip(moments, lines[:count], strict=True))
    parts = urlsplit(url)
    latencies: list[float] = []
    late: list[float] = []
    errors = [0]
    cpu = [0.0]  # the generator's threads' own
    lock = threading.Lock()
    began = time.monotonic() + 0.05  # every thread started

    def connection() -> None:
        client = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)
        own_cpu = time.thread_time()
        while True:
            with lock:
                item = next(schedule, None)
            if item is None:
                break
            moment, line = item
            time.sleep(max(0.0, began + moment - time.monotonic()))
            started = time.monotonic()
            failed = not _post(client, parts.path, line)
            with lock:
                late.append(started - began - moment)
                latencies.append(time.monotonic() - started)
                errors[0] += failed
        with lock:
            cpu[0] += time.thread_time() - own_cpu

    threads = [threading.Thread(target=connection) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = summarize("python, open loop", latencies, seconds, errors[0])
    lateness = sorted(x * 1000 for x in late)
    return replace(
        result,
        late_p99_ms=percentile(lateness, 99),
        cpu_ms_per_request=round(cpu[0] * 1000 / max(count, 1), 2),
    )


def summarize(generator: str, latencies: list[float], seconds: float, errors: int) -> LoadResult:
    ms = sorted(x * 1000 for x in latencies) or [0.0]
    return LoadResult(
        generator,
        len(latencies),
        seconds,
        errors,
        percentile(ms, 50),
        percentile(ms, 90),
        percentile(ms, 99),
        ms[-1],
    )


def percentile(ordered: list[float], p: float) -> float:
    """The p-th percentile of already sorted values (nearest rank); 0 for none."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * p // 100))
    return round(ordered[int(rank) - 1], 2)


def spread(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of `values` (seconds), in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": round(ms[-1], 2) if ms else 0.0,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else 0.0,
    }
