"""Legal calendar: BGB §§187-193 worked examples and invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from definitions import calendar


@pytest.mark.parametrize(
    ("start", "duration", "land", "start_counts", "expected"),
    [
        # BGB §188(3): an event on 31 January, one month -> last day of February.
        (date(2023, 1, 31), "P1M", "BE", False, date(2023, 2, 28)),
        (date(2024, 1, 31), "P1M", "BE", False, date(2024, 2, 29)),
        # §3(2) BauGB display from Good Friday 29 March 2024 (§187(2), NW): one month ends
        # Sunday 28 April (later than 30 days: 27 April), §193 -> Monday 29 April.
        (date(2024, 3, 29), "one_month_min_30_days", "NW", True, date(2024, 4, 29)),
        # Ten working days from Friday 20 December 2024 in Bavaria skip Christmas, New Year
        # and Epiphany (6 January, a holiday in BY only).
        (date(2024, 12, 20), "P10WD", "BY", False, date(2025, 1, 9)),
    ],
)
def test_worked_examples(
    start: date, duration: str, land: str, start_counts: bool, expected: date
) -> None:
    assert calendar.period_end(start, duration, land, start_counts=start_counts) == expected


def test_deadline_instant_is_midnight_berlin_across_dst() -> None:
    # Summer time (UTC+2) ends on 27 October 2024 at 03:00.
    assert calendar.deadline_instant(date(2024, 10, 26)) == datetime(2024, 10, 26, 22, tzinfo=UTC)
    assert calendar.deadline_instant(date(2024, 10, 27)) == datetime(2024, 10, 27, 23, tzinfo=UTC)
