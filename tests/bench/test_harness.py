"""The benchmark harness still runs: `python -m bench --quick` on SQLite and the tests' Redis
produces a well-formed result. Nothing here is timed; speed is reported by the bench itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.slow

# The end-to-end and worker parts take a minute or more on two busy cores: run them too with
# BENCH_SMOKE_ALL=1.
FAST_PARTS = "webhook,routing"
ALL_PARTS = "webhook,e2e,workers,routing"


def run_quick(redis_url: str, out: Path, parts: str) -> dict[str, object]:
    command = [sys.executable, "-m", "bench", "--quick", "--no-postgres"]
    command += ["--redis-url", redis_url, "--out", str(out), "--parts", parts]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (run_dir,) = out.iterdir()
    assert "| part | measure | result | target | met |" in (run_dir / "results.md").read_text()
    assert "| part | measure |" in finished.stdout
    results: dict[str, object] = json.loads((run_dir / "results.json").read_text())
    return results


def test_quick_bench_reports_every_part_it_ran(redis_url: str, tmp_path: Path) -> None:
    """Each part asked for is in the JSON with its numbers, and the table names its targets."""
    parts = ALL_PARTS if os.environ.get("BENCH_SMOKE_ALL") else FAST_PARTS
    results = run_quick(redis_url, tmp_path, parts)
    assert results["mode"] == "quick"
    found = results["parts"]
    assert isinstance(found, dict)
    assert set(found) == set(parts.split(","))
    webhook = found["webhook"]
    assert webhook["bare"]["requests"] > 0
    assert len(webhook["bare_rates"]) == 2  # before and after SQLite's webhook
    assert webhook["bare"]["rate"] == max(webhook["bare_rates"])
    assert webhook["sqlite"]["flat_out"]["requests"] > 0
    assert webhook["sqlite"]["flat_out"]["stored"] > 0, "the webhook stored no text"
    assert webhook["sqlite"]["memory"]["web_worker_rss_mb"] > 0
    routing = found["routing"]["sqlite"]
    assert all(m["assigned"] == m["decisions"] for m in routing["by_supporters"].values())
    assert routing["supporters_ratio"] is not None
    if "e2e" in found:
        assert all(step["assigned"]["count"] > 0 for step in found["e2e"]["steps"])
        assert all(step["cpu_ms_per_text"]["workers"] > 0 for step in found["e2e"]["steps"])
    if "workers" in found:
        assert found["workers"]["1"]["texts_per_s"] > 0
