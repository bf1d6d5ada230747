"""Legal calendar: deadline arithmetic of BGB §§187-193 per German Land, Europe/Berlin.

Pure functions, no I/O, no clocks: the `Procedure` workflow calls them from workflow code.
Public holidays come from the `holidays` package, computed per Land and year on first use
(without its gettext translations, so no file is read) and cached as frozensets; years
1991-2150 are supported. The Europe/Berlin zone is loaded once at import. The module works in
Temporal's workflow sandbox either way; importing it with
`workflow.unsafe.imports_passed_through()` avoids re-importing `holidays` for every run.

Duration expressions of the procedure language (`parse_duration`):

| expression | meaning |
| --- | --- |
| `P14D`, `P2W`, `P1M`, `P1Y`, `P1M15D` | ISO-8601 calendar periods (days, weeks, months, years) |
| `P10WD`, `10 working days` | working days: Monday-Friday, not a public holiday of the Land |
| `one_month_min_30_days` | BauGB §3(2), §4(2): one month, but never less than 30 days |
| `one_month`, `two_weeks`, `one_week` | named aliases of `P1M`, `P2W`, `P1W` |

Counting (`period_end(start, duration, land, start_counts=...)` returns the last day):
- `start_counts=False`, BGB §187(1): the period is triggered by an event on `start` (an
  announcement, a receipt); that day is not counted. Days end `start + n`; weeks end on the
  same weekday `n` weeks later; months end on the day with the same number `n` months later
  (§188(2) first alternative).
- `start_counts=True`, BGB §187(2): the period begins at the start of `start` (a publication
  period "from 3 March"); that day counts. Days end `start + n - 1`; weeks and months end on
  the day before the day with the same name or number (§188(2) second alternative).
- §188(3): when the month of the end has no such day, the period ends on its last day
  (31 January + one month -> 28/29 February).
- §189(2): months are counted first, then the remaining days.
- `one_month_min_30_days`: the later of the one-month end and the 30-day end.
- §193: an end on a Saturday, Sunday or public holiday of the Land moves to the next working
  day (`apply_193=False` switches this off, e.g. for announcement lead times).
- Working days: the n-th working day after the event (or counting the start day).

`deadline_instant(last_day)` gives the end of that day (24:00 Europe/Berlin, so 00:00 of the
next day) as an aware UTC datetime, for durable timers; it is DST-safe because midnight always
exists in Berlin. `berlin_date(instant)` converts `workflow.now()` into the local legal date.
Both follow the German summer-time rule directly (no `zoneinfo`, which the sandbox restricts).

Holidays are the Land-wide public holidays the `holidays` package lists for the subdivision
(e.g. Fronleichnam in BW/BY/HE/NW/RP/SL, Reformationstag in the eastern Länder and
HB/HH/NI/SH, Buß- und Bettag in SN). Holidays of only part of a Land (Mariä Himmelfahrt in
Catholic communities of Bavaria, the Augsburg Friedensfest) are not included.
"""

from __future__ import annotations

import calendar as _stdcal
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from holidays.countries.germany import Germany

__all__ = [
    "BERLIN",
    "DURATION_PATTERN",
    "FIRST_YEAR",
    "LANDS",
    "LAST_YEAR",
    "NAMED_PERIODS",
    "Duration",
    "DurationError",
    "LandCode",
    "berlin_date",
    "deadline_instant",
    "earliest_start_after_lead",
    "holidays_of",
    "is_working_day",
    "next_working_day",
    "parse_duration",
    "period_end",
    "period_first_day",
]

LandCode = Literal[
    "BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"
]
LANDS: Final[tuple[str, ...]] = get_args(LandCode)
BERLIN: Final = ZoneInfo("Europe/Berlin")
"""The zone itself, for code outside workflows (the sandbox restricts `zoneinfo`)."""
FIRST_YEAR: Final = 1991  # German unity: the `holidays` data for Germany starts here
LAST_YEAR: Final = 2150


def _untranslated(message: str) -> str:
    return message


class _Germany(Germany):
    """The `holidays` data for Germany without translations.

    Only the dates matter here. Skipping gettext keeps construction free of file access, so
    the calendar also works inside Temporal's workflow sandbox when it is not passed through.
    """

    def _init_translation(self) -> None:
        self.tr = _untranslated


# Filled lazily per (Land, year); values are immutable frozensets, so workflow threads may
# share the cache (a race only computes the same set twice).
_HOLIDAYS: Final[dict[tuple[str, int], frozenset[date]]] = {}


def _holidays(land: str, year: int) -> frozenset[date]:
    key = (land, year)
    found = _HOLIDAYS.get(key)
    if found is None:
        found = frozenset(_Germany(subdiv=land, years=year).keys())
        _HOLIDAYS[key] = found
    return found


class DurationError(ValueError):
    """A duration expression that is not part of the procedure language."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A parsed period. `min_days` is a floor (one month, but at least 30 days)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    working_days: int = 0
    min_days: int = 0

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    def canonical(self) -> str:
        """The normal form, e.g. `P1M` for `one_month`; used in messages."""
        if self.working_days:
            return f"P{self.working_days}WD"
        for name, named in NAMED_PERIODS.items():
            if self.min_days and named == self:
                return name
        parts = [(self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D")]
        text = "P" + "".join(f"{n}{unit}" for n, unit in parts if n)
        return text if text != "P" else "P0D"

    def guaranteed_days(self) -> int:
        """Shortest length in days this period can have: months count 28, years 365."""
        months_days = self.months * 28 + self.years * 365
        return max(months_days + self.weeks * 7 + self.days + self.working_days, self.min_days)


NAMED_PERIODS: Final[dict[str, Duration]] = {
    "one_month_min_30_days": Duration(months=1, min_days=30),
    "one_month": Duration(months=1),
    "two_weeks": Duration(weeks=2),
    "one_week": Duration(weeks=1),
}

_ISO = re.compile(r"P(?:(\d{1,3})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,5})D)?")
_WORKING = re.compile(r"(?:P(\d{1,4})WD|(\d{1,4}) working days?)")

DURATION_PATTERN: Final = (
    r"^(P(\d{1,3}Y)?(\d{1,4}M)?(\d{1,4}W)?(\d{1,5}D)?|P\d{1,4}WD|\d{1,4} working days?|"
    + "|".join(NAMED_PERIODS)
    + ")$"
)


def parse_duration(text: str) -> Duration:
    """Parse a duration expression (see the module docstring); raise `DurationError`."""
    expr = text.strip()
    if expr in NAMED_PERIODS:
        return NAMED_PERIODS[expr]
    if m := _WORKING.fullmatch(expr):
        return Duration(working_days=int(m.group(1) or m.group(2)))
    m = _ISO.fullmatch(expr)
    if m is None or expr == "P":
        names = ", ".join(NAMED_PERIODS)
        msg = (
            f"expected ISO-8601 duration (P14D, P2W, P1M), working days (P10WD, "
            f"'10 working days') or legal period ({names}), got {text!r}"
        )
        raise DurationError(msg)
    years, months, weeks, days = (int(g) if g else 0 for g in m.groups())
    return Duration(years=years, months=months, weeks=weeks, days=days)


def _as_duration(duration: Duration | str) -> Duration:
    return parse_duration(duration) if isinstance(duration, str) else duration


def _check_land(land: str) -> None:
    if land not in LANDS:
        msg = f"unknown Land {land!r}; expected one of {', '.join(LANDS)}"
        raise ValueError(msg)


def _check_year(day: date) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        msg = f"date {day.isoformat()} outside the legal calendar ({FIRST_YEAR}-{LAST_YEAR})"
        raise ValueError(msg)


def holidays_of(land: str, year: int) -> list[date]:
    """The Land's public holidays in `year`, sorted."""
    _check_land(land)
    _check_year(date(year, 1, 1))
    return sorted(_holidays(land, year))


def is_working_day(day: date, land: str) -> bool:
    """Monday to Friday and not a public holiday of the Land (BGB §193)."""
    _check_year(day)
    _check_land(land)
    return day.weekday() < 5 and day not in _holidays(land, day.year)  # Monday..Friday


def next_working_day(day: date, land: str) -> date:
    """`day` itself if it is a working day, else the next one (BGB §193)."""
    while not is_working_day(day, land):
        day += timedelta(days=1)
    return day


def _add_months(day: date, months: int) -> date | None:
    """The day with the same number `months` later, or None when that month lacks it."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    if day.day > _stdcal.monthrange(year, month + 1)[1]:
        return None
    return date(year, month + 1, day.day)


def _last_of_month_after(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + (day.month - 1) + months, 12)
    return date(year, month + 1, _stdcal.monthrange(year, month + 1)[1])


def _month_end(start: date, months: int, start_counts: bool) -> date:
    """BGB §188(2)/(3) for a period of whole months."""
    same = _add_months(start, months)
    if same is None:  # §188(3): the month has no such day -> its last day
        return _last_of_month_after(start, months)
    return same - timedelta(days=1) if start_counts else same


def period_first_day(start: date, *, start_counts: bool = False) -> date:
    """The first day counted: `start` under §187(2), the day after under §187(1)."""
    return start if start_counts else start + timedelta(days=1)


def period_end(
    start: date,
    duration: Duration | str,
    land: str,
    *,
    start_counts: bool = False,
    apply_193: bool = True,
) -> date:
    """The legal last day of a period that starts with `start` (see the module docstring)."""
    _check_year(start)
    _check_land(land)
    dur = _as_duration(duration)
    if dur.working_days:
        day = start if start_counts else start + timedelta(days=1)
        remaining = dur.working_days
        while True:
            if is_working_day(day, land):
                remaining -= 1
                if remaining == 0:
                    return day
            day += timedelta(days=1)
    end = start if not start_counts else start - timedelta(days=1)
    if dur.total_months:
        end = _month_end(start, dur.total_months, start_counts)
    end += timedelta(days=dur.weeks * 7 + dur.days)  # §189(2): days after months
    if dur.min_days:
        floor = period_first_day(start, start_counts=start_counts) + timedelta(
            days=dur.min_days - 1
        )
        end = max(end, floor)
    if end < start:
        end = start  # a zero-length period ends on its own start day
    _check_year(end)
    return next_working_day(end, land) if apply_193 else end


def earliest_start_after_lead(announcement: date, lead: Duration | str, land: str) -> date:
    """First day a period may begin when it must be announced `lead` before (e.g. P1W).

    The lead time is counted like a period triggered by the announcement (§187(1)); it must
    have fully run, so the period may start the day after its end. §193 does not apply: the
    lead time is no time limit for a declaration.
    """
    return period_end(announcement, lead, land, apply_193=False) + timedelta(days=1)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, _stdcal.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - 6) % 7)


def _summer_time(year: int) -> tuple[datetime, datetime]:
    """Start and end of German summer time in `year`, both at 01:00 UTC.

    EU rule (Directive 2000/84/EC, in Germany the Sommerzeitverordnung): last Sunday of March
    to last Sunday of October; until 1995 it ended on the last Sunday of September.
    """
    end_month = 10 if year >= 1996 else 9  # the EU rule of 1996
    return (
        datetime.combine(_last_sunday(year, 3), time(1), tzinfo=UTC),
        datetime.combine(_last_sunday(year, end_month), time(1), tzinfo=UTC),
    )


def _berlin_offset(instant_utc: datetime) -> timedelta:
    start, end = _summer_time(instant_utc.year)
    return timedelta(hours=2) if start <= instant_utc < end else timedelta(hours=1)


def deadline_instant(last_day: date) -> datetime:
    """End of `last_day` (24:00 Europe/Berlin) as an aware UTC datetime, for timers.

    Computed from the summer-time rule rather than `zoneinfo`, which Temporal's sandbox
    restricts; a test compares it with `zoneinfo` for every day of the supported years.
    Midnight always exists in Berlin: the clocks change at 02:00/03:00 local time.
    """
    next_day = last_day + timedelta(days=1)
    start, end = _summer_time(next_day.year)
    summer = start.date() < next_day <= end.date()
    offset = timedelta(hours=2) if summer else timedelta(hours=1)
    return datetime.combine(next_day, time(0), tzinfo=UTC) - offset


def berlin_date(instant: datetime) -> date:
    """The Berlin calendar date of an aware instant (e.g. `workflow.now()`)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        msg = f"expected an aware datetime, got naive {instant.isoformat()}"
        raise ValueError(msg)
    utc = instant.astimezone(UTC)
    return (utc + _berlin_offset(utc)).date()
