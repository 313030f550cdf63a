"""Moving shifts from the calendar: a one-off changes, one occurrence of a series moves
alone, or this one and all following move together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from helpline.models import AuditEntry, Shift
from helpline.services import shifts
from routing.coverage import week_start
from tests.support import Helpline
from tests.web.conftest import post_form
from tests.web.test_console import casey, page


def next_monday_at(hour: int) -> datetime:
    monday = week_start(datetime.now(UTC).date()) + timedelta(days=7)
    return datetime(monday.year, monday.month, monday.day, hour, tzinfo=UTC)


def move(helpline: Helpline, shift: Shift, occurrence: datetime, **form: str) -> int:
    path = f"/console/calendar/shifts/{shift.id}/move"
    data = {"occurrence": occurrence.isoformat(), "starts": "10:00", "ends": "13:00", **form}
    answer = post_form(helpline.client, path, data, "/console/calendar")
    helpline.look_again()
    return answer.status_code


def week_of(helpline: Helpline, start: datetime, days: int = 7) -> list[datetime]:
    found = shifts.list_occurrences(helpline.db, start, start + timedelta(days=days))
    return [o.starts_at for o in found]


def test_each_shift_on_the_calendar_has_a_move_form_with_its_own_times(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    start = next_monday_at(9)
    shifts.create_shift(helpline.db, sam.id, start, start + timedelta(hours=3), "FREQ=WEEKLY")
    helpline.db.commit()
    casey(helpline)
    html = page(helpline.client, f"/console/calendar?week={start.date().isoformat()}")
    assert "<summary>Move…</summary>" in html
    assert 'name="starts" type="time" required value="09:00"' in html
    assert 'value="following"> this and all following' in html


def test_moving_a_one_off_shift_changes_its_day_time_and_supporter(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    ivy = helpline.supporter("Ivy Chen", on_shift=False)
    start = next_monday_at(9)
    shift = shifts.create_shift(helpline.db, sam.id, start, start + timedelta(hours=3))
    helpline.db.commit()
    casey(helpline)
    tuesday = (start + timedelta(days=1)).date().isoformat()
    assert move(helpline, shift, start, day=tuesday, supporter_id=str(ivy.id)) == 302
    (moved,) = helpline.db.scalars(select(Shift).where(Shift.starts_at >= start)).all()
    assert moved.id == shift.id and moved.supporter_id == ivy.id
    assert (moved.starts_at, moved.ends_at) == (
        start + timedelta(days=1, hours=1),
        start + timedelta(days=1, hours=4),
    )
    entry = helpline.db.scalars(select(AuditEntry).where(AuditEntry.action == "shift.moved")).one()
    assert entry.detail is not None and entry.detail["shift_id"] == shift.id


def test_moving_one_occurrence_of_a_series_leaves_the_others(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    start = next_monday_at(9)
    shift = shifts.create_shift(
        helpline.db, sam.id, start, start + timedelta(hours=3), "FREQ=DAILY"
    )
    helpline.db.commit()
    casey(helpline)
    wednesday = start + timedelta(days=2)
    assert move(helpline, shift, wednesday, day=wednesday.date().isoformat(), scope="one") == 302
    found = week_of(helpline, start)
    assert wednesday not in found and wednesday + timedelta(hours=1) in found
    assert len(found) == 7


def test_moving_this_and_following_splits_the_series(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    start = next_monday_at(9)
    shift = shifts.create_shift(
        helpline.db, sam.id, start, start + timedelta(hours=3), "FREQ=DAILY"
    )
    helpline.db.commit()
    casey(helpline)
    wednesday = start + timedelta(days=2)
    form = {"day": wednesday.date().isoformat(), "scope": "following"}
    assert move(helpline, shift, wednesday, **form) == 302
    found = week_of(helpline, start, days=14)
    assert [f.hour for f in found] == [9, 9] + [10] * 12
    assert helpline.db.scalar(select(Shift.rrule).where(Shift.id == shift.id)).startswith(
        "FREQ=DAILY;UNTIL="
    )


def test_a_move_the_calendar_cannot_make_is_a_400_and_changes_nothing(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    start = next_monday_at(9)
    shift = shifts.create_shift(
        helpline.db, sam.id, start, start + timedelta(hours=3), "FREQ=DAILY"
    )
    helpline.db.commit()
    casey(helpline)
    day = start.date().isoformat()
    not_a_start = start + timedelta(hours=1)
    assert move(helpline, shift, not_a_start, day=day) == 400
    assert move(helpline, shift, start, day=day, scope="sometimes") == 400
    assert move(helpline, shift, start, day=day, supporter_id="99999") == 400
    assert move(helpline, shift, start, day="someday") == 400
    assert move(helpline, shift, start.replace(tzinfo=None), day=day) == 400
    assert move(helpline, shift, datetime.max.replace(tzinfo=UTC), day=day) == 400
    assert week_of(helpline, start) == [start + timedelta(days=d) for d in range(7)]
