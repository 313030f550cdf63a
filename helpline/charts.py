"""Bar charts drawn on the server as SVG geometry: no script in the page, so CSP holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil, log10

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 44, 28, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float | None  # None: no data (no bar)


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    ticks: list[tuple[float, float]]  # (y, value) for the gridlines
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM
    label_every: int = 1


def bar_chart(labels: Sequence[str], values: Sequence[float | None]) -> BarChart:
    """Bars for `values` on a scale from zero to a round number above the largest."""
    top = _round_up(max((v for v in values if v is not None), default=0.0))
    plot = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(values))
    bars = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        tall = 0.0 if value is None else plot * value / top
        bars.append(
            Bar(
                LEFT + n * slot + slot * 0.15,
                HEIGHT - BOTTOM - tall,
                slot * 0.7,
                tall,
                label,
                value,
            )
        )
    steps = _steps(top)
    ticks = [(HEIGHT - BOTTOM - plot * k / steps, top * k / steps) for k in range(steps + 1)]
    return BarChart(bars, ticks, label_every=max(1, ceil(len(values) / 14)))


def _steps(top: float) -> int:
    """Gridlines at whole, round values: 0-1-2 for a top of 2, 0-5-10-15-20 for 20."""
    if top <= 5:
        return max(1, int(top))
    return 4 if str(int(top))[0] == "2" else 5


def _round_up(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** int(log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))
