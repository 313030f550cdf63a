"""Sampling profiles with py-spy (the `bench` extra): where a process spends its time."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")
OURS = ("helpline/", "routing/", "workers/")
ROOT = str(Path(__file__).resolve().parents[1]) + "/"


def py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float | None, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample `pid` for `seconds` (or until `finish(..., stop=True)`) into `out` (collapsed
    stacks); None when py-spy is missing."""
    binary = py_spy()
    if binary is None:
        return None
    duration = ["--duration", str(max(1, round(seconds)))] if seconds else []
    command = [
        binary,
        "record",
        "--pid",
        str(pid),
        *duration,
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(
    process: subprocess.Popen[bytes] | None, out: Path, top: int = 12, stop: bool = False
) -> dict[str, object]:
    if process is None:
        return {"error": "py-spy is not installed (pip install -e '.[bench]')"}
    if stop:
        process.send_signal(signal.SIGINT)  # py-spy writes what it has, then exits
    process.wait(timeout=120)
    if not out.exists():
        return {"error": f"py-spy wrote nothing (exit {process.returncode}; needs ptrace)"}
    return summarize(out.read_text().splitlines(), top) | {"file": out.name}


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    if path.startswith(ROOT):
        path = path.removeprefix(ROOT)
    else:
        path = path.rsplit("site-packages/", 1)[-1]
    return f"{match['func']} ({path})"


def summarize(lines: list[str], top: int) -> dict[str, object]:
    """Self and inclusive shares of samples per function, and our own code's inclusive share."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        if not frames or frames[-1].startswith(("wait (", "select (", "accept (", "poll (")):
            continue  # idle threads waiting for work
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
            if name.split(" (", 1)[-1].startswith(OURS):
                ours[name] += count

    def shares(counter: Counter[str]) -> list[list[object]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "self_pct": shares(own),
        "inclusive_pct": shares(inclusive),
        "ours_inclusive_pct": shares(ours),
    }
