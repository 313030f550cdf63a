"""The console's reports: figures per local day and week, charts, and CSV exports. Its routes
belong to the console blueprint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from helpline import charts, web
from helpline.auth import current_user
from helpline.console import bp, coordinator_required, no_store, parse_day
from helpline.services import audit, coverage, reports
from routing.reports import Report

REPORT_DAYS = 28  # the default range: the last four weeks, today included
MAX_REPORT_DAYS = 366


def _report_params() -> dict[str, Any]:
    """The range (local days, inclusive) and program of a report, or 400 with the reason."""
    session = web.db()
    zone = coverage.helpline_zone(session)
    last = parse_day(request.args.get("to"), "to") or web.now().astimezone(ZoneInfo(zone)).date()
    first = parse_day(request.args.get("from"), "from") or last - timedelta(days=REPORT_DAYS - 1)
    if first > last:
        abort(400, "from must not be after to")
    if (last - first).days >= MAX_REPORT_DAYS:
        abort(400, f"a report covers at most {MAX_REPORT_DAYS} days")
    programs = reports.programs(session)
    raw = request.args.get("program", "").strip()
    program_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    if raw and program_id not in {p for p, _ in programs}:
        abort(400, "program must be one of the helpline's programs")
    query = {"from": first.isoformat(), "to": last.isoformat(), "program": raw}
    return {
        "zone": zone,
        "first": first,
        "last": last,
        "program_id": program_id,
        "programs": programs,
        "query": query,
    }


def _report_tables(params: dict[str, Any]) -> tuple[Report, dict[str, reports.Table]]:
    session = web.db()
    result = reports.report(
        session, params["zone"], params["first"], params["last"], web.now(), params["program_id"]
    )
    return result, reports.tables(result, reports.supporter_names(session, result))


@bp.get("/reports")
@coordinator_required
def report_page() -> Response:
    """Figures per local day and week for a range (default the last four weeks)."""
    params = _report_params()
    result, tables = _report_tables(params)
    labels = [f.period.first.strftime("%-d %b") for f in result.days]
    week_labels = [f.period.first.strftime("%-d %b") for f in result.weeks]
    minutes = [
        None if f.first_reply_median_s is None else f.first_reply_median_s / 60 for f in result.days
    ]
    chart_list = [
        (
            "conversations",
            "Conversations per day",
            "conversations",
            labels,
            charts.bar_chart(labels, [f.conversations for f in result.days]),
        ),
        (
            "first-reply",
            "Median time to first reply per day",
            "minutes",
            labels,
            charts.bar_chart(labels, minutes),
        ),
        (
            "handoffs",
            "Handoffs per week",
            "handoffs",
            week_labels,
            charts.bar_chart(week_labels, [f.handoff_total for f in result.weeks]),
        ),
    ]
    return no_store(
        render_template(
            "console/reports.html", report=result, tables=tables, charts=chart_list, **params
        )
    )


@bp.get("/reports/<table>.csv")
@coordinator_required
def report_csv(table: str) -> Response:
    """One of the page's tables as CSV, for the same range; recorded as an export."""
    if table not in reports.TABLES:
        abort(404)
    params = _report_params()
    _, tables = _report_tables(params)
    body = reports.csv_text(tables[table])
    actor_id = current_user().id
    web.db().rollback()  # end the read, so SQLite lets the entry below be written
    try:
        with web.resources().sessions() as session, session.begin():
            audit.record(
                session,
                audit.EXPORTED,
                web.now(),
                actor_id=actor_id,
                detail={"table": table, **params["query"]},
            )
    except SQLAlchemyError:
        return Response("this export could not be recorded; try again\n", 503)
    name = f"helpline-{table}-{params['first'].isoformat()}-{params['last'].isoformat()}.csv"
    response = Response(body, 200, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """A figure in seconds as a coordinator reads it; "no data" when there is none."""
    if seconds is None:
        return "no data"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min {whole % 60} s"
    return f"{minutes // 60} h {minutes % 60} min"
