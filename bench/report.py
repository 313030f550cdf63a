"""The Markdown table of a run: each measure, its result, the issue's target, and whether it
was met."""

from __future__ import annotations

from typing import Any

WEBHOOK_TARGET = {"postgresql": 0.3, "sqlite": 0.4}
HEADER = "| part | measure | result | target | met |\n| --- | --- | --- | --- | --- |\n"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _lat(found: dict[str, Any], keys: tuple[str, ...] = ("p50_ms", "p99_ms", "max_ms")) -> str:
    return "/".join(f"{found[k]:.1f}" for k in keys) + " ms"


def _cpu(found: dict[str, Any]) -> str:
    if "machine_cpu_ms_per_request" not in found:
        return ""
    return (
        f"; CPU per request: machine {found['machine_cpu_ms_per_request']:.2f} ms, "
        f"web processes {found['web_cpu_ms_per_request']:.2f} ms"
    )


def webhook_rows(part: dict[str, Any]) -> list[tuple[str, ...]]:
    bare = part["bare"]
    rates = part.get("bare_rates", [bare["rate"]])
    runs = f" (the best of {len(rates)} runs: {', '.join(f'{r:.0f}' for r in rates)})"
    rows = [
        (
            "1 webhook",
            "bare Flask, empty TwiML (ceiling: its best run around the webhooks)",
            f"{bare['rate']:.0f} req/s{runs if len(rates) > 1 else ''}, p50/p99/max "
            f"{_lat(bare)}, {bare['errors']} errors" + _cpu(bare),
            "",
            "",
        )
    ]
    for backend in ("postgresql", "sqlite"):
        if backend not in part:
            continue
        flat, half = part[backend]["flat_out"], part[backend]["half_rate"]
        ratio = flat["rate"] / bare["rate"] if bare["rate"] else 0.0
        target = WEBHOOK_TARGET[backend]
        rows += [
            (
                "1 webhook",
                f"signed inbound webhook, {backend}",
                f"{flat['rate']:.0f} req/s ({ratio:.2f}x bare), p50/p99/max {_lat(flat)}, "
                f"{flat['errors']} errors" + _cpu(flat),
                f">= {target}x bare",
                _met(ratio >= target),
            ),
            (
                "1 webhook",
                f"at half its max rate, {backend}",
                f"{half['rate']:.0f} req/s: p50/p99 {_lat(half, ('p50_ms', 'p99_ms'))}",
                "p99 < 50 ms",
                _met(half["p99_ms"] < 50),
            ),
        ]
    return rows


def _offered(step: dict[str, Any]) -> str:
    """The rate the generator offered, and for an open loop how late its sends started."""
    offered = f"offered {step['offered']:.0f}"
    late, cpu = step["webhook"].get("late_p99_ms"), step["webhook"].get("cpu_ms_per_request")
    if late is None:
        return offered
    errors = step["webhook"].get("errors") or 0
    failed = f", {errors} webhook errors" if errors else ""
    return f"{offered}, sends late p99 {late:.0f} ms, generator {cpu} ms CPU a text{failed}"


def e2e_rows(part: dict[str, Any]) -> list[tuple[str, ...]]:
    noop = part["noop"]["to_running"]
    keys = ("p50_ms", "p95_ms", "p99_ms")
    rows = [
        (
            "2 end to end",
            f"no-op job, enqueue -> running ({part['backend']})",
            f"p50/p95/p99 {_lat(noop, keys)}",
            "",
            "",
        )
    ]
    for step in part["steps"]:
        assigned, reply = step["assigned"], step["reply"]
        floor = noop["p50_ms"] or 1.0
        missing = f", {step['unassigned']} never assigned" if step["unassigned"] else ""
        target_applies = step["rate"] in (50, 100)
        rows.append(
            (
                "2 end to end",
                f"{step['rate']} texts/s ({_offered(step)}): received -> assigned",
                f"p50/p95/p99 {_lat(assigned, keys)} ({assigned['p50_ms'] / floor:.0f}x no-op)"
                + missing,
                "p95 < 50 ms" if target_applies else "",
                _met(assigned["p95_ms"] < 50) if target_applies else "",
            )
        )
        cpu = step.get("cpu_ms_per_text")
        if cpu:
            rows.append(
                (
                    "2 end to end",
                    f"{step['rate']} texts/s: CPU a text, arrival to sent",
                    f"machine {cpu['machine']} ms: web processes {cpu['web']}, "
                    f"workers {cpu['workers']}"
                    + "".join(
                        f", {name} {cpu[name]}"
                        for name in ("postgresql", "redis", "bench")
                        if name in cpu
                    ),
                    "",
                    "",
                )
            )
        sent = f"p50/p95/p99 {_lat(reply, keys)} ({reply['count']} replies)"
        if not reply["count"]:
            sent = f"none of {step['replies_posted']} replies reached Twilio before the step ended"
        rows.append(
            ("2 end to end", f"{step['rate']} texts/s: reply -> Twilio API call", sent, "", "")
        )
    best = part["highest_rate_p95_under_1s"]
    rows.append(
        (
            "2 end to end",
            "highest rate with received -> assigned p95 < 1 s",
            f"{best} texts/s" if best else "none of the rates tried",
            "200 texts/s",
            _met(bool(best) and best >= 200),
        )
    )
    return rows


def worker_rows(part: dict[str, Any]) -> list[tuple[str, ...]]:
    one = part.get("1", {})
    floor = one.get("noops_per_s") or 0.0
    rows = []
    for count in ("1", "2", "4"):
        if count not in part:
            continue
        found = part[count]
        per_worker = found["texts_per_s_per_worker"]
        rows.append(
            (
                "3 workers",
                f"{count} worker process(es), {part['backend']}",
                f"{found['texts_per_s']} texts/s ({per_worker}/worker); "
                f"no-op jobs {found['noops_per_s']}/s{_before_after(found)}",
                ">= 0.5x no-op rate per worker" if count == "1" else "",
                _met(per_worker >= 0.5 * floor) if count == "1" and floor else "",
            )
        )
    return rows


def _before_after(found: dict[str, Any]) -> str:
    runs = found.get("noops_before_after")
    return f" (mean of {runs[0]} before and {runs[1]} after)" if runs else ""


def routing_rows(part: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for backend, found in part.items():
        if not isinstance(found, dict):
            continue
        for axis, label in (("by_supporters", "supporters"), ("by_queued", "queued")):
            sizes = found[axis]
            cells = ", ".join(
                f"{n}: {m['median_ms']:.0f}/{m['p99_ms']:.0f}" for n, m in sizes.items()
            )
            ratio = found[f"{label}_ratio"]
            rows.append(
                (
                    "4 routing",
                    f"decision vs {label}, {backend} (median/p99 ms)",
                    f"{cells}; ratio {ratio}x",
                    "<= 3x",
                    _met(ratio is not None and ratio <= 3),
                )
            )
    return rows


def memory_rows(parts: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    webhook = parts.get("webhook", {})
    for backend in ("postgresql", "sqlite"):
        if backend in webhook:
            rss = webhook[backend]["memory"]["web_worker_rss_mb"]
            rows.append(("5 memory", f"web (one gunicorn worker), {backend}", f"{rss} MB", "", ""))
    e2e = parts.get("e2e")
    if e2e:
        rss = e2e["memory"]["worker_rss_mb"]
        rows.append(("5 memory", "worker, after end to end", f"{rss} MB", "", ""))
    return rows


def profile_rows(parts: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    sources = [
        (f"webhook, {b}", parts.get("webhook", {}).get(b, {}).get("profile"))
        for b in ("postgresql", "sqlite")
    ] + [
        (f"routing, {b}", parts.get("routing", {}).get(b, {}).get("profile"))
        for b in ("postgresql", "sqlite")
    ]
    sources.append(("worker processing texts", parts.get("workers", {}).get("profile")))
    for label, found in sources:
        if not found:
            continue
        # Entry points (the worker's loop, gunicorn's) hold nearly every sample: they say nothing.
        top = [
            x
            for x in found.get("ours_inclusive_pct") or []
            if x[1] < 95 and not x[0].endswith(("(workers/__main__.py)", "(workers/worker.py)"))
        ]
        text = ", ".join(f"{name} {pct}%" for name, pct in top[:4]) or found.get("error", "")
        rows.append(("6 profile", label, text, "", ""))
    return rows


def markdown(results: dict[str, Any]) -> str:
    parts = results["parts"]
    rows: list[tuple[str, ...]] = []
    builders = {
        "webhook": webhook_rows,
        "e2e": e2e_rows,
        "workers": worker_rows,
        "routing": routing_rows,
    }
    for name, build in builders.items():
        if name in parts:
            rows += build(parts[name])
    rows += memory_rows(parts) + profile_rows(parts)
    machine = results["machine"]
    head = (
        f"Mode: {results['mode']}, started {results['started_at']}; {machine['cores']} cores "
        f"({machine['cpu']}), Python {machine['python']}, PostgreSQL "
        f"{machine.get('postgresql', 'not used')}, Redis {machine['redis']}.\n\n"
    )
    return head + HEADER + "".join("| " + " | ".join(row) + " |\n" for row in rows)
