"""Reports: figures per local day and week, across clock changes, from plain facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from routing.reports import (
    ConversationFact,
    EventFact,
    ReplyFact,
    Report,
    build_report,
    day_period,
    holdings,
    percentile,
    week_periods,
)

LONDON = "Europe/London"
SPRING = date(2026, 3, 29)  # clocks go forward at 01:00 GMT
AUTUMN = date(2026, 10, 25)  # clocks go back at 02:00 BST
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def convo(
    id_: int,
    opened_at: datetime,
    texter: int | None = None,
    closed: bool = False,
    urgent_since: datetime | None = None,
    first_reply_after: timedelta | None = None,
) -> ConversationFact:
    reply = opened_at + first_reply_after if first_reply_after is not None else None
    return ConversationFact(
        id_, texter if texter is not None else id_, opened_at, closed, urgent_since, reply
    )


def report(
    convos: list[ConversationFact],
    first: date,
    last: date,
    events: list[EventFact] | None = None,
    replies: list[ReplyFact] | None = None,
) -> Report:
    return build_report(convos, events or [], replies or [], LONDON, first, last, AS_OF)


# Percentiles


def test_the_median_of_an_odd_count_is_the_middle_value() -> None:
    assert percentile([30, 10, 20], 50) == 20


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert percentile([40, 10, 30, 20], 50) == 25


def test_the_90th_percentile_interpolates_between_the_nearest_ranks() -> None:
    assert percentile([10, 20, 30], 90) == pytest.approx(28)  # rank 1.8
    assert percentile([10, 20, 30, 40], 90) == pytest.approx(37)  # rank 2.7
    assert percentile(range(1, 11), 90) == pytest.approx(9.1)


def test_a_single_value_is_every_percentile_and_nothing_has_none() -> None:
    assert percentile([42], 50) == percentile([42], 90) == 42
    assert percentile([], 50) is None


# Local days and weeks


def test_the_spring_forward_day_lasts_23_hours_from_midnight_to_midnight() -> None:
    day = day_period(SPRING, LONDON)
    assert (day.starts_at, day.ends_at) == (utc(2026, 3, 29, 0), utc(2026, 3, 29, 23))
    assert day.hours == 23


def test_the_autumn_back_day_lasts_25_hours_from_midnight_to_midnight() -> None:
    day = day_period(AUTUMN, LONDON)
    assert (day.starts_at, day.ends_at) == (utc(2026, 10, 24, 23), utc(2026, 10, 26, 0))
    assert day.hours == 25


def test_weeks_run_monday_to_sunday_cut_to_the_range_and_keep_their_real_length() -> None:
    weeks = week_periods(date(2026, 3, 26), date(2026, 4, 8), LONDON)
    assert [(w.first, w.last) for w in weeks] == [
        (date(2026, 3, 26), date(2026, 3, 29)),
        (date(2026, 3, 30), date(2026, 4, 5)),
        (date(2026, 4, 6), date(2026, 4, 8)),
    ]
    assert [w.hours for w in weeks] == [4 * 24 - 1, 7 * 24, 3 * 24]
    (autumn,) = week_periods(date(2026, 10, 19), date(2026, 10, 25), LONDON)
    assert autumn.hours == 7 * 24 + 1


def test_a_conversation_at_half_past_midnight_on_the_spring_day_counts_on_that_day() -> None:
    """00:30 GMT on the 29th is the 29th; 23:30 UTC that evening is 00:30 BST on the 30th."""
    convos = [convo(1, utc(2026, 3, 29, 0, 30)), convo(2, utc(2026, 3, 29, 23, 30))]
    days = report(convos, date(2026, 3, 28), date(2026, 3, 30)).days
    assert [d.conversations for d in days] == [0, 1, 1]


def test_a_conversation_at_half_past_midnight_on_the_autumn_day_counts_on_that_day() -> None:
    """00:30 BST on the 25th is 23:30 UTC on the 24th; 23:30 UTC on the 25th is still the 25th."""
    convos = [
        convo(1, utc(2026, 10, 24, 23, 30)),
        convo(2, utc(2026, 10, 25, 23, 30)),
        convo(3, utc(2026, 10, 24, 22, 59)),
    ]
    days = report(convos, date(2026, 10, 24), date(2026, 10, 26)).days
    assert [d.conversations for d in days] == [1, 2, 0]
    assert [d.period.hours for d in days] == [24, 25, 24]


def test_empty_days_show_zero_conversations_and_no_data_for_medians() -> None:
    convos = [convo(1, utc(2026, 3, 30, 10), first_reply_after=timedelta(minutes=2))]
    result = report(convos, date(2026, 3, 29), date(2026, 3, 31))
    empty, busy, _ = result.days
    assert (empty.conversations, empty.texters, empty.abandoned) == (0, 0, 0)
    assert empty.first_reply_median_s is None and empty.first_reply_p90_s is None
    assert empty.urgent_wait_median_s is None
    assert busy.first_reply_median_s == 120


def test_conversations_outside_the_range_are_left_out() -> None:
    convos = [convo(1, utc(2026, 3, 28, 23, 59)), convo(2, utc(2026, 3, 29, 23, 0))]
    result = report(convos, SPRING, SPRING)
    assert result.total.conversations == 0


# The figures


def test_time_to_first_reply_percentiles_over_a_week_with_odd_and_even_days() -> None:
    monday = utc(2026, 10, 19, 9)
    minutes = {0: [1, 3, 8], 1: [2, 4, 6, 10]}  # Monday: odd count; Tuesday: even
    convos = [
        convo(10 * day + n, monday + timedelta(days=day), first_reply_after=timedelta(minutes=m))
        for day, waits in minutes.items()
        for n, m in enumerate(waits)
    ]
    convos.append(convo(99, monday, first_reply_after=None))  # never answered: not a wait
    result = report(convos, date(2026, 10, 19), date(2026, 10, 25))
    monday_, tuesday = result.days[:2]
    assert (monday_.first_reply_median_s, monday_.answered, monday_.conversations) == (180, 3, 4)
    assert tuesday.first_reply_median_s == 300  # (4 + 6) / 2 minutes
    assert tuesday.first_reply_p90_s == pytest.approx(60 * (6 + 0.7 * 4))
    (week,) = result.weeks
    assert week.first_reply_median_s == 240 and week.conversations == 8


def test_texters_are_counted_once_per_day_and_once_per_week() -> None:
    convos = [
        convo(1, utc(2026, 6, 1, 9), texter=7),
        convo(2, utc(2026, 6, 1, 15), texter=7),
        convo(3, utc(2026, 6, 2, 9), texter=7),
        convo(4, utc(2026, 6, 2, 9), texter=8),
    ]
    result = report(convos, date(2026, 6, 1), date(2026, 6, 7))
    assert [d.texters for d in result.days[:2]] == [1, 2]
    assert result.weeks[0].texters == 2


def test_abandoned_means_closed_without_ever_reaching_a_supporter() -> None:
    t = utc(2026, 6, 1, 9)
    convos = [
        convo(1, t, closed=True),  # opted out while waiting
        convo(2, t, closed=True),  # served, then closed
        convo(3, t),  # still waiting: not abandoned (yet)
        convo(4, t, closed=True),  # offered nothing, transferred to a pool, closed
    ]
    events = [
        EventFact(1, "closed", t + timedelta(minutes=5)),
        EventFact(2, "assigned", t + timedelta(minutes=1), supporter_id=5),
        EventFact(2, "closed", t + timedelta(minutes=30), supporter_id=5),
        EventFact(4, "transferred", t + timedelta(minutes=1)),
        EventFact(4, "closed", t + timedelta(minutes=9)),
    ]
    result = report(convos, date(2026, 6, 1), date(2026, 6, 1), events)
    assert result.total.abandoned == 2


def test_handoffs_count_by_rule_warm_offer_and_transfer_not_acceptances() -> None:
    t = utc(2026, 6, 1, 9)
    events = [
        EventFact(1, "assigned", t, supporter_id=5),
        EventFact(1, "handed_off", t + timedelta(minutes=3), 5, rule="no_first_reply"),
        EventFact(1, "assigned", t + timedelta(minutes=4), supporter_id=6),
        EventFact(1, "offered", t + timedelta(minutes=20), supporter_id=7),
        EventFact(1, "handed_off", t + timedelta(minutes=21), supporter_id=7),  # accepted
        EventFact(1, "transferred", t + timedelta(minutes=40), supporter_id=8),
        EventFact(1, "handed_off", t + timedelta(minutes=50), 8, rule="offline"),
    ]
    result = report([convo(1, t)], date(2026, 6, 1), date(2026, 6, 1), events)
    assert result.total.handoffs == {
        "no_first_reply": 1,
        "shift_end_offer": 1,
        "transfer": 1,
        "offline": 1,
    }
    assert result.total.handoff_total == 4


def test_urgent_wait_runs_from_becoming_urgent_to_the_next_assignment() -> None:
    t = utc(2026, 6, 1, 9)
    convos = [
        convo(1, t, urgent_since=t),  # urgent from its first text, served 5 minutes later
        convo(2, t, urgent_since=t + timedelta(minutes=10)),  # with a crisis-trained holder
        convo(3, t, urgent_since=t + timedelta(minutes=10)),  # holder lacked the skill
        convo(4, t, urgent_since=t),  # never served
        convo(5, t, urgent_since=t),  # served in the same routing pass
    ]
    events = [
        EventFact(1, "assigned", t + timedelta(minutes=5), supporter_id=5),
        EventFact(2, "assigned", t + timedelta(minutes=1), supporter_id=5),
        EventFact(3, "assigned", t + timedelta(minutes=1), supporter_id=6),
        EventFact(3, "handed_off", t + timedelta(minutes=10), 6, rule="needs_skill"),
        EventFact(3, "assigned", t + timedelta(minutes=12), supporter_id=5),
        EventFact(5, "assigned", t, supporter_id=7),
    ]
    total = report(convos, date(2026, 6, 1), date(2026, 6, 1), events).total
    assert (total.urgent, total.urgent_waited) == (5, 3)
    assert total.urgent_wait_median_s == 120  # of 0, 120 and 300 seconds
    assert total.urgent_wait_p90_s == pytest.approx(120 + 0.8 * 180)  # rank 1.8


def test_supporter_load_counts_conversations_replies_and_time_holding_any() -> None:
    t = utc(2026, 6, 1, 9)
    events = [
        EventFact(1, "assigned", t, supporter_id=5),
        EventFact(1, "closed", t + timedelta(minutes=30), supporter_id=5),
        EventFact(2, "assigned", t + timedelta(minutes=20), supporter_id=5),  # overlaps 10 min
        EventFact(2, "transferred", t + timedelta(minutes=40), supporter_id=6),
        EventFact(2, "transferred", t + timedelta(minutes=45), supporter_id=6),  # to the pool
        EventFact(2, "assigned", t + timedelta(minutes=50), supporter_id=5),
        EventFact(2, "closed", t + timedelta(minutes=60), supporter_id=5),
    ]
    replies = [ReplyFact(1, 5, 4), ReplyFact(2, 5, 2), ReplyFact(2, 6, 1), ReplyFact(9, 6, 50)]
    result = report([convo(1, t), convo(2, t)], date(2026, 6, 1), date(2026, 6, 1), events, replies)
    loads = {s.supporter_id: s for s in result.supporters}
    assert (loads[5].conversations, loads[5].replies, loads[5].active_s) == (2, 6, 50 * 60)
    assert (loads[6].conversations, loads[6].replies, loads[6].active_s) == (1, 1, 5 * 60)


def test_a_holding_still_going_ends_at_the_reports_moment() -> None:
    t = utc(2026, 6, 1, 9)
    spans = holdings([EventFact(1, "assigned", t, supporter_id=5)], t + timedelta(hours=2))
    assert spans == [(5, t, t + timedelta(hours=2))]


# Texter feedback


def test_survey_scores_are_averaged_and_outcomes_counted_by_the_day_they_opened() -> None:
    monday = utc(2026, 3, 23, 10)
    facts = [
        ConversationFact(1, 1, monday, True, None, None, "supported", True, 5),
        ConversationFact(2, 2, monday, True, None, None, "supported", True, 2),
        ConversationFact(3, 3, monday, True, None, None, "referred", True, None),
        ConversationFact(4, 4, monday + timedelta(days=1), True, None, None, None, False, None),
    ]
    result = report(facts, date(2026, 3, 23), date(2026, 3, 24))
    first, second = result.days
    assert (first.surveys_sent, first.surveys_answered, first.survey_mean) == (3, 2, 3.5)
    assert first.outcomes == {"supported": 2, "referred": 1}
    assert (second.surveys_sent, second.surveys_answered, second.survey_mean) == (0, 0, None)
    assert second.outcomes == {}
    assert result.total.survey_mean == 3.5 and result.total.outcomes["supported"] == 2
