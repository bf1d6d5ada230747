"""Jinja2 filters for mail templates: dates in German or English, Berlin time, links, texts.

Dates are written out ("4. Mai 2027" / "4 May 2027") because a mail is read by people, and
instants are shown in Berlin time because that is how deadlines are counted
(`definitions.calendar`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2

from activities.notify.errors import TemplateError

__all__ = ["DEFAULT_LANGUAGE", "FILTERS", "format_date", "format_datetime"]

DEFAULT_LANGUAGE: Final = "de"
_BERLIN: Final = ZoneInfo("Europe/Berlin")
_MONTHS: Final[dict[str, tuple[str, ...]]] = {
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni",
        "Juli", "August", "September", "Oktober", "November", "Dezember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def _as_date(value: object) -> date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError as err:
            msg = f"expected an ISO 8601 date, got {value!r}"
            raise TemplateError(msg) from err
    msg = f"expected a date, datetime or ISO 8601 string, got {type(value).__name__}"
    raise TemplateError(msg)


def format_date(lang: str, value: object) -> str:
    """A date (or the Berlin date of an instant) written out: "4. Mai 2027" / "4 May 2027"."""
    day = _as_date(value)
    if isinstance(day, datetime) and day.tzinfo is not None:
        day = day.astimezone(_BERLIN)  # the legal date of an instant is its Berlin date
    if lang == "de":
        return f"{day.day}. {_MONTHS['de'][day.month - 1]} {day.year}"
    return f"{day.day} {_MONTHS['en'][day.month - 1]} {day.year}"


def format_datetime(lang: str, value: object) -> str:
    """An aware instant in Berlin time: "20. Januar 2027, 15:05 Uhr"; a date as `format_date`."""
    moment = _as_date(value)
    if not isinstance(moment, datetime):
        return format_date(lang, moment)
    if moment.tzinfo is None:
        msg = f"expected a timezone-aware datetime, got {moment.isoformat()}"
        raise TemplateError(msg)
    # Readers are in Germany and deadlines are counted in Berlin time (see definitions.calendar).
    local = moment.astimezone(_BERLIN)
    if lang == "de":
        return f"{format_date(lang, local)}, {local:%H:%M} Uhr"
    return f"{format_date(lang, local)}, {local:%H:%M} (Berlin time)"


@jinja2.pass_context
def _date_filter(ctx: jinja2.runtime.Context, value: object) -> str:
    return format_date(str(ctx.get("lang", DEFAULT_LANGUAGE)), value)


def _url_filter(value: object) -> str:
    """Only web links in href: a `javascript:` or `data:` URL in a parameter is refused."""
    text = str(value)
    if urlsplit(text).scheme.lower() not in ("http", "https"):
        msg = f"expected an http(s) URL in a link, got {text[:60]!r}"
        raise TemplateError(msg)
    return text


@jinja2.pass_context
def _localize_filter(ctx: jinja2.runtime.Context, value: object) -> str:
    if isinstance(value, Mapping):
        lang = str(ctx.get("lang", DEFAULT_LANGUAGE))
        chosen = value.get(lang) or value.get(DEFAULT_LANGUAGE) or next(iter(value.values()), "")
        return str(chosen)
    return str(value)


@jinja2.pass_context
def _datetime_filter(ctx: jinja2.runtime.Context, value: object) -> str:
    return format_datetime(str(ctx.get("lang", DEFAULT_LANGUAGE)), value)


FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "date": _date_filter,
    "datetime": _datetime_filter,
    "localize": _localize_filter,
    "url": _url_filter,
}
