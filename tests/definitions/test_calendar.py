"""Legal calendar: BGB §§187-193 worked examples with sources, Land holidays, invariants.

Sources cited per example: the text of the BGB (https://www.gesetze-im-internet.de/bgb/__187.html,
__188.html, __193.html) and of BauGB §3(2) (https://www.gesetze-im-internet.de/bbaug/__3.html);
holiday law of the Länder as listed by the `holidays` package.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from definitions import calendar

# Deterministic and independent of machine speed.
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)

WORKED_EXAMPLES = [
    # (id, start, duration, land, start_counts, expected last day, source)
    (
        "188-3-31-jan",
        date(2023, 1, 31),
        "P1M",
        "BE",
        False,
        date(2023, 2, 28),
        "BGB §188(3): the month of the end lacks the day -> its last day",
    ),
    (
        "188-3-leap",
        date(2024, 1, 31),
        "P1M",
        "BE",
        False,
        date(2024, 2, 29),
        "BGB §188(3) in a leap year",
    ),
    (
        "188-2-week",
        date(2024, 5, 15),
        "P2W",
        "BE",
        False,
        date(2024, 5, 29),
        "BGB §187(1), §188(2) first alt.: same weekday as the event (Wednesday)",
    ),
    (
        "188-2-from-day",
        date(2023, 3, 1),
        "P1M",
        "BE",
        True,
        date(2023, 3, 31),
        "BGB §187(2), §188(2) second alt.: day before the day with the same number",
    ),
    (
        "188-3-from-day-31",
        date(2025, 3, 31),
        "P1M",
        "BE",
        True,
        date(2025, 4, 30),
        "BGB §187(2), §188(3): '31 April' does not exist -> 30 April",
    ),
    (
        "188-1-days",
        date(2024, 1, 8),
        "P10D",
        "BE",
        False,
        date(2024, 1, 18),
        "BGB §187(1), §188(1): ten days after a Monday event",
    ),
    (
        "193-saturday",
        date(2024, 6, 1),
        "P14D",
        "BE",
        False,
        date(2024, 6, 17),
        "BGB §193: Saturday 15 June -> Monday 17 June",
    ),
    (
        "189-2-month-and-half",
        date(2024, 1, 10),
        "P1M15D",
        "BE",
        False,
        date(2024, 2, 26),
        "BGB §189(2): months first (10 Feb), then 15 days (25 Feb, a Sunday) -> §193 Monday",
    ),
    (
        "3-2-good-friday",
        date(2024, 3, 29),
        "one_month_min_30_days",
        "NW",
        True,
        date(2024, 4, 29),
        "BauGB §3(2): display from Good Friday: one month ends Sunday 28 April -> §193 Monday",
    ),
    (
        "3-2-after-easter",
        date(2024, 4, 2),
        "one_month_min_30_days",
        "NW",
        True,
        date(2024, 5, 2),
        "BauGB §3(2): display announced Friday 22 March, starts after Easter (2 April); "
        "one month and 30 days both end 1 May (Labour Day) -> §193 Thursday 2 May",
    ),
    (
        "3-2-february-30-days",
        date(2023, 2, 1),
        "one_month_min_30_days",
        "BE",
        True,
        date(2023, 3, 2),
        "BauGB §3(2) 'mindestens 30 Tage': one month from 1 Feb ends 28 Feb, 30 days end 2 March",
    ),
    (
        "working-days-bavaria",
        date(2024, 12, 20),
        "P10WD",
        "BY",
        False,
        date(2025, 1, 9),
        "ten working days skip Christmas, New Year and Epiphany (6 January, BY)",
    ),
    (
        "working-days-berlin",
        date(2024, 12, 20),
        "10 working days",
        "BE",
        False,
        date(2025, 1, 8),
        "the same in Berlin, where 6 January is a working day",
    ),
]

LAND_EXAMPLES = [
    # (holiday, start (event), P14D end, lands where it is a holiday -> next working day)
    (
        "Fronleichnam 30 May 2024",
        date(2024, 5, 16),
        date(2024, 5, 30),
        {
            "BW": date(2024, 5, 31),
            "BY": date(2024, 5, 31),
            "NW": date(2024, 5, 31),
            "BE": date(2024, 5, 30),
            "NI": date(2024, 5, 30),
            "SN": date(2024, 5, 30),
        },
    ),
    (
        "Reformationstag 31 Oct 2024",
        date(2024, 10, 17),
        date(2024, 10, 31),
        {
            "NI": date(2024, 11, 1),
            "SN": date(2024, 11, 1),
            "BB": date(2024, 11, 1),
            "BW": date(2024, 10, 31),
            "NW": date(2024, 10, 31),
            "BE": date(2024, 10, 31),
        },
    ),
    (
        "Allerheiligen 1 Nov 2024",
        date(2024, 10, 18),
        date(2024, 11, 1),
        {
            "BW": date(2024, 11, 4),
            "BY": date(2024, 11, 4),
            "NW": date(2024, 11, 4),
            "NI": date(2024, 11, 1),
            "BE": date(2024, 11, 1),
        },
    ),
    (
        "Buß- und Bettag 20 Nov 2024",
        date(2024, 11, 6),
        date(2024, 11, 20),
        {"SN": date(2024, 11, 21), "BE": date(2024, 11, 20), "BY": date(2024, 11, 20)},
    ),
    (
        "Frauentag 8 March 2024",
        date(2024, 2, 23),
        date(2024, 3, 8),
        {"BE": date(2024, 3, 11), "MV": date(2024, 3, 11), "NW": date(2024, 3, 8)},
    ),
]


@pytest.mark.parametrize(
    ("start", "duration", "land", "start_counts", "expected"),
    [pytest.param(*case[1:6], id=case[0]) for case in WORKED_EXAMPLES],
)
def test_worked_examples(
    start: date, duration: str, land: str, start_counts: bool, expected: date
) -> None:
    assert calendar.period_end(start, duration, land, start_counts=start_counts) == expected


@pytest.mark.parametrize(
    ("start", "plain_end", "by_land"),
    [pytest.param(*case[1:], id=case[0]) for case in LAND_EXAMPLES],
)
def test_land_specific_holidays(start: date, plain_end: date, by_land: dict[str, date]) -> None:
    assert calendar.period_end(start, "P14D", "BE", apply_193=False) == plain_end
    for land, expected in by_land.items():
        assert calendar.period_end(start, "P14D", land) == expected, land


def test_announcement_lead_before_easter() -> None:
    # BauGB §3(2): announced Friday 22 March 2024 with one week's lead; the lead ends on Good
    # Friday (no §193 for a lead time), so the display may start on Saturday 30 March.
    assert calendar.earliest_start_after_lead(date(2024, 3, 22), "P1W", "NW") == date(2024, 3, 30)


def test_deadline_instant_is_midnight_berlin_across_dst() -> None:
    # Summer time starts 31 March 2024 02:00 and ends 27 October 2024 03:00.
    assert calendar.deadline_instant(date(2024, 3, 30)) == datetime(2024, 3, 30, 23, tzinfo=UTC)
    assert calendar.deadline_instant(date(2024, 3, 31)) == datetime(2024, 3, 31, 22, tzinfo=UTC)
    assert calendar.deadline_instant(date(2024, 10, 26)) == datetime(2024, 10, 26, 22, tzinfo=UTC)
    assert calendar.deadline_instant(date(2024, 10, 27)) == datetime(2024, 10, 27, 23, tzinfo=UTC)


def test_berlin_date_rejects_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        calendar.berlin_date(datetime(2024, 1, 1))


def test_bad_inputs_name_what_was_expected() -> None:
    with pytest.raises(calendar.DurationError, match="got '1 month'"):
        calendar.parse_duration("1 month")
    with pytest.raises(ValueError, match="unknown Land 'XX'"):
        calendar.period_end(date(2024, 1, 1), "P1D", "XX")
    with pytest.raises(ValueError, match="outside the legal calendar"):
        calendar.period_end(date(1980, 1, 1), "P1D", "BE")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("P14D", "P14D"),
        ("one_month", "P1M"),
        ("two_weeks", "P2W"),
        ("P10WD", "P10WD"),
        ("3 working days", "P3WD"),
        ("one_month_min_30_days", "one_month_min_30_days"),
        ("P1Y2M", "P1Y2M"),
    ],
)
def test_parse_duration(text: str, canonical: str) -> None:
    assert calendar.parse_duration(text).canonical() == canonical


def test_holidays_of_land() -> None:
    by = calendar.holidays_of("BY", 2024)
    be = calendar.holidays_of("BE", 2024)
    assert date(2024, 1, 6) in by
    assert date(2024, 1, 6) not in be
    assert date(2024, 3, 8) in be
    assert date(2024, 3, 8) not in by


# --- properties ------------------------------------------------------------------------------

starts = st.dates(min_value=date(1995, 1, 1), max_value=date(2140, 12, 31))
lands = st.sampled_from(calendar.LANDS)
calendar_durations = st.builds(
    calendar.Duration,
    months=st.integers(0, 24),
    weeks=st.integers(0, 10),
    days=st.integers(0, 400),
).filter(lambda d: d.total_months or d.weeks or d.days)
durations = st.one_of(
    calendar_durations,
    st.builds(calendar.Duration, working_days=st.integers(1, 60)),
    st.just(calendar.NAMED_PERIODS["one_month_min_30_days"]),
)


@PROPERTY
@given(start=starts, duration=durations, land=lands, start_counts=st.booleans())
def test_end_is_a_working_day_of_the_land(
    start: date, duration: calendar.Duration, land: str, start_counts: bool
) -> None:
    end = calendar.period_end(start, duration, land, start_counts=start_counts)
    assert end.weekday() < 5
    assert end not in calendar.holidays_of(land, end.year)
    assert end >= start


@PROPERTY
@given(first=starts, gap=st.integers(0, 60), duration=durations, land=lands, counts=st.booleans())
def test_monotone_in_start(
    first: date, gap: int, duration: calendar.Duration, land: str, counts: bool
) -> None:
    later = first + timedelta(days=gap)
    assert calendar.period_end(first, duration, land, start_counts=counts) <= calendar.period_end(
        later, duration, land, start_counts=counts
    )


@PROPERTY
@given(start=starts, duration=calendar_durations, land=lands, counts=st.booleans())
def test_193_moves_at_most_four_days_and_length_is_kept(
    start: date, duration: calendar.Duration, land: str, counts: bool
) -> None:
    plain = calendar.period_end(start, duration, land, start_counts=counts, apply_193=False)
    moved = calendar.period_end(start, duration, land, start_counts=counts)
    assert timedelta(0) <= moved - plain <= timedelta(days=4)  # e.g. Good Friday to Monday
    first = calendar.period_first_day(start, start_counts=counts)
    assert (plain - first).days + 1 >= duration.guaranteed_days()


@PROPERTY
@given(start=starts, days=st.integers(1, 1000), land=lands)
def test_day_periods_187_1_and_2(start: date, days: int, land: str) -> None:
    duration = calendar.Duration(days=days)
    assert calendar.period_end(start, duration, land, apply_193=False) == start + timedelta(days)
    assert calendar.period_end(
        start, duration, land, start_counts=True, apply_193=False
    ) == start + timedelta(days - 1)


@PROPERTY
@given(start=starts, months=st.integers(1, 36))
def test_month_arithmetic_188(start: date, months: int) -> None:
    end = calendar.period_end(start, calendar.Duration(months=months), "BE", apply_193=False)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    if start.day <= 28:
        assert end.day == start.day
    else:  # §188(3): the corresponding day, or the last day of a shorter month
        assert end.day == start.day or (end + timedelta(days=1)).day == 1


@PROPERTY
@given(start=starts, count=st.integers(1, 60), land=lands)
def test_working_days_count(start: date, count: int, land: str) -> None:
    end = calendar.period_end(start, calendar.Duration(working_days=count), land)
    counted = sum(
        calendar.is_working_day(start + timedelta(days=i), land)
        for i in range(1, (end - start).days + 1)
    )
    assert counted == count


@PROPERTY
@given(day=starts)
def test_deadline_instant_is_the_next_berlin_midnight(day: date) -> None:
    instant = calendar.deadline_instant(day)
    assert instant.tzinfo is UTC
    assert calendar.berlin_date(instant) == day + timedelta(days=1)
    assert calendar.berlin_date(instant - timedelta(microseconds=1)) == day
    local = instant.astimezone(calendar.BERLIN)
    assert (local.hour, local.minute) == (0, 0)
    length = instant - calendar.deadline_instant(day - timedelta(days=1))
    assert length in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))


@PROPERTY
@given(duration=durations)
def test_canonical_round_trip(duration: calendar.Duration) -> None:
    assert calendar.parse_duration(duration.canonical()) == duration


def test_berlin_rule_matches_zoneinfo_every_day() -> None:
    day = date(calendar.FIRST_YEAR, 1, 1)
    while day.year <= calendar.LAST_YEAR:
        local_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time())
        expected = local_midnight.replace(tzinfo=calendar.BERLIN).astimezone(UTC)
        assert calendar.deadline_instant(day) == expected, day
        day += timedelta(days=1)


@pytest.mark.parametrize("year", [1991, 1995, 1996, 2024, 2025, 2100])
def test_berlin_date_matches_zoneinfo_around_transitions(year: int) -> None:
    instant = datetime(year, 1, 1, tzinfo=UTC)
    while instant.year == year:
        assert calendar.berlin_date(instant) == instant.astimezone(calendar.BERLIN).date()
        instant += timedelta(minutes=30)


@PROPERTY
@given(announcement=starts, days=st.integers(1, 60), land=lands)
def test_lead_time_fully_runs_before_the_period(announcement: date, days: int, land: str) -> None:
    first = calendar.earliest_start_after_lead(announcement, calendar.Duration(days=days), land)
    assert (first - announcement).days == days + 1  # §187(1): the announcement day not counted
