"""The console's Reports page and its CSV exports, on a known week in the database."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from helpline.charts import bar_chart
from helpline.models import AuditEntry
from helpline.services.reports import FIGURE_HEADERS, TABLES, Table, csv_text
from tests.report_week import (
    DAILY,
    FEEDBACK_WEEKLY,
    QUERY,
    WEEKLY,
    Week,
    seed_week,
    supporters_csv,
)
from tests.support import Helpline
from tests.web.conftest import sign_in


@pytest.fixture
def week(helpline: Helpline) -> Week:
    return seed_week(helpline.db, helpline.settings)


def coordinator(helpline: Helpline) -> None:
    assert sign_in(helpline.client, helpline.coordinator()).status_code == 302


def rows_of(helpline: Helpline, table: str, **query: str) -> list[list[str]]:
    answer = helpline.client.get(f"/console/reports/{table}.csv", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def test_the_daily_csv_has_the_figures_of_each_local_day_including_the_23_hour_one(
    helpline: Helpline, week: Week
) -> None:
    coordinator(helpline)
    header, *rows = rows_of(helpline, "daily", **QUERY)
    assert header == FIGURE_HEADERS
    assert rows == DAILY


def test_the_weekly_csv_counts_each_texter_once_and_leaves_out_the_next_monday(
    helpline: Helpline, week: Week
) -> None:
    coordinator(helpline)
    assert rows_of(helpline, "weekly", **QUERY)[1:] == WEEKLY


def test_the_feedback_csv_counts_survey_answers_and_outcomes(
    helpline: Helpline, week: Week
) -> None:
    coordinator(helpline)
    header, *rows = rows_of(helpline, "feedback-weekly", **QUERY)
    assert header[:5] == ["first day", "last day", "surveys sent", "answered", "mean score (1-5)"]
    assert header[5:7] == [
        "outcome: Supported: talked it through",
        "outcome: Referred to another service",
    ]
    assert rows == FEEDBACK_WEEKLY
    daily = rows_of(helpline, "feedback-daily", **QUERY)[1:]
    assert daily[0][2:7] == ["2", "1", "4.0", "1", "1"]
    assert all(row[2:5] == ["0", "0", ""] for row in daily[1:])


def test_the_supporters_csv_counts_load_and_defuses_a_name_that_looks_like_a_formula(
    helpline: Helpline, week: Week
) -> None:
    coordinator(helpline)
    header, *rows = rows_of(helpline, "supporters", **QUERY)
    assert header[:2] == ["supporter id", "supporter"]
    assert rows == supporters_csv(week)


def test_the_handoff_csvs_count_the_handoff_by_its_reason(helpline: Helpline, week: Week) -> None:
    coordinator(helpline)
    header, *rows = rows_of(helpline, "handoffs-weekly", **QUERY)
    assert dict(zip(header, rows[0], strict=True))["went offline"] == "1"
    assert rows[0][-1] == "1"
    daily = rows_of(helpline, "handoffs-daily", **QUERY)[1:]
    assert [row[-1] for row in daily] == ["1", "0", "0", "0", "0", "0", "0"]


def test_a_program_narrows_every_figure_to_its_conversations(
    helpline: Helpline, week: Week
) -> None:
    coordinator(helpline)
    rows = rows_of(helpline, "weekly", program=str(week.youth.id), **QUERY)
    assert rows[1][3:6] == ["1", "1", "0"]  # conversations, texters, answered


def test_an_export_is_a_named_csv_attachment_and_is_audited(helpline: Helpline, week: Week) -> None:
    coordinator(helpline)
    answer = helpline.client.get("/console/reports/daily.csv", query_string=QUERY)
    assert answer.mimetype == "text/csv"
    disposition = answer.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="helpline-daily-2026-03-23-2026-03-29.csv"'
    helpline.look_again()
    entry = helpline.db.scalars(
        select(AuditEntry).where(AuditEntry.action == "report.exported")
    ).one()
    assert entry.detail == {
        "table": "daily",
        "from": "2026-03-23",
        "to": "2026-03-29",
        "program": "",
    }


def test_the_page_shows_the_figures_charts_and_a_csv_link_for_every_table(
    helpline: Helpline, week: Week
) -> None:
    coordinator(helpline)
    html = helpline.client.get("/console/reports", query_string=QUERY).get_data(as_text=True)
    assert 'data-figure="conversations">4<' in html and 'data-figure="abandoned">1<' in html
    assert 'data-figure="first-reply-median">4 min 0 s<' in html
    assert html.count('<svg role="img"') == 3 and html.count("<desc id=") == 3
    for table in TABLES:
        assert f'href="/console/reports/{table}.csv?from=2026-03-23&amp;to=2026-03-29' in html
    assert "no data" in html  # days without answers have no median, not zero
    assert "&#39;=Ivy Chen" not in html and "=Ivy Chen" in html  # the page shows the real name
    assert 'id="feedback"' in html


def test_the_default_range_is_the_last_four_weeks(helpline: Helpline) -> None:
    coordinator(helpline)
    rows = rows_of(helpline, "daily")[1:]
    assert len(rows) == 28
    assert all(row[3] == "0" for row in rows)


def test_reports_are_for_coordinators_only(helpline: Helpline) -> None:
    sign_in(helpline.client, helpline.supporter())
    assert helpline.client.get("/console/reports").status_code == 403
    assert helpline.client.get("/console/reports/daily.csv").status_code == 403


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"from": "2026-13-01"}, "from must be a date"),
        ({"to": "yesterday"}, "to must be a date"),
        ({"from": "2026-03-29", "to": "2026-03-23"}, "from must not be after to"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "at most 366 days"),
        ({"program": "999999"}, "program must be one of"),
        ({"program": "youth"}, "program must be one of"),
    ],
)
@pytest.mark.parametrize("path", ["/console/reports", "/console/reports/weekly.csv"])
def test_a_bad_range_or_program_is_refused_with_the_reason(
    helpline: Helpline, path: str, query: dict[str, str], reason: str
) -> None:
    coordinator(helpline)
    answer = helpline.client.get(path, query_string=query)
    assert answer.status_code == 400
    assert reason in answer.get_data(as_text=True)


def test_an_unknown_table_is_not_found(helpline: Helpline) -> None:
    coordinator(helpline)
    assert helpline.client.get("/console/reports/everything.csv").status_code == 404


def test_csv_cells_a_spreadsheet_would_run_get_a_leading_apostrophe() -> None:
    table = Table("t", "T", ["name", "n"], [["=1+2", 1], ["+x", -3], ["-y", None], ["@z", 0.5]])
    table.rows.append(["\tcmd", 2])
    rows = list(csv.reader(io.StringIO(csv_text(table))))
    assert rows[1:] == [
        ["'=1+2", "1"],
        ["'+x", "-3"],  # a number is a number, not a formula
        ["'-y", ""],
        ["'@z", "0.5"],
        ["'\tcmd", "2"],
    ]


def test_bars_are_scaled_to_a_round_top_and_no_data_draws_no_bar() -> None:
    chart = bar_chart(["a", "b", "c"], [3, None, 1.5])
    full = chart.base - 12  # the plot's height: the top gridline is at 12
    assert [b.height for b in chart.bars] == [
        pytest.approx(full * 3 / 5),
        0,
        pytest.approx(full * 1.5 / 5),
    ]
    assert [value for _, value in chart.ticks] == [0, 1, 2, 3, 4, 5]
