"""Calendar and news feeds of the public site: iCalendar deadlines, Atom for the news.

Citizens subscribe to "the hearing ends" in their calendar app, and to new procedures and
decisions in a feed reader. Both are polled by programs that keep what they saw, so:
- Every deadline is one all-day VEVENT on the last day of the period (the law counts days in
  Europe/Berlin, a period ends at 24:00 of that day; an all-day date is exactly that, with no
  timezone arithmetic for the client to get wrong). Its UID derives from the procedure id and
  the seq of the phase visit, so an extension changes the same event: SEQUENCE counts the
  changes (extensions, and a cancellation, which sets STATUS:CANCELLED) and DTSTAMP and
  LAST-MODIFIED are the time of the last one (RFC 5545: without a METHOD, DTSTAMP is when the
  information was last revised), and calendar apps update the entry instead of adding a
  second one. Both documents are deterministic, so pollers get an ETag and 304s.
- Atom entry ids are uuid5 urns of the record's stable id, `updated` is the record's own
  time: a poll that finds nothing new gets byte-identical entries.
Nothing personal is in either: the types they render (`worker.web.models`) carry none.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import icalendar
from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from activities.records import stable_id
from worker.web import readmodel, readmodel_feeds
from worker.web.exports import (
    BadParameterError,
    Licence,
    bad_request,
    check_known,
    licence_of,
    municipality_param,
    not_found,
    pool_of,
    query_value,
    site_url,
)
from worker.web.i18n import format_date
from worker.web.models import Deadline, RecentItem
from worker.web.readmodel_feeds import procedure_url
from worker.web.settings import WebSettings

__all__ = [
    "ATOM_LIMIT",
    "AtomOptions",
    "CalendarOptions",
    "atom_feed",
    "deadline_calendar",
    "deadline_uid",
    "routes",
]

ATOM_LIMIT = 50
"""Entries per Atom document: feed readers poll often, a short document is enough."""
MAX_ALARM_DAYS = 60
MUNICIPALITY_WINDOW = timedelta(days=365)
"""A municipality calendar starts this long ago by default (older deadlines are history)."""
ICS_TYPE = "text/calendar; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

_TEXT = {
    "de": {
        "hearing": "Letzter Tag für Stellungnahmen: {procedure}",
        "other": "Fristende {phase}: {procedure}",
        "phase": "Phase",
        "round": "Durchgang",
        "period": "Zeitraum",
        "until": "bis",
        "extended": "Frist verlängert (ursprünglich bis {planned})",
        "procedure": "Verfahren",
        "calendar": "Fristen: {name}",
        "alarm": "Frist endet: {summary}",
        "feed": "Neue Verfahren und Beschlüsse",
        "feed_in": "Neue Verfahren und Beschlüsse in {ags}",
        "new_procedure": "Neues Verfahren: {title}",
        "decision": "Beschluss: {title}",
    },
    "en": {
        "hearing": "Last day for statements: {procedure}",
        "other": "Deadline {phase}: {procedure}",
        "phase": "Phase",
        "round": "Round",
        "period": "Period",
        "until": "to",
        "extended": "Deadline extended (originally {planned})",
        "procedure": "Procedure",
        "calendar": "Deadlines: {name}",
        "alarm": "Deadline ends: {summary}",
        "feed": "New procedures and decisions",
        "feed_in": "New procedures and decisions in {ags}",
        "new_procedure": "New procedure: {title}",
        "decision": "Decision: {title}",
    },
}
LANGS = tuple(_TEXT)


@dataclass(frozen=True)
class CalendarOptions:
    """How to render a calendar: language of the texts, optional reminder, links."""

    name: str
    lang: str = "de"
    alarm_days: int | None = None  # VALARM this many days before the last day
    site_url: str = "/"  # absolute base URL of the site, ends with "/"
    cancelled: Mapping[tuple[str, int], datetime] = field(default_factory=dict)
    """(procedure id, seq) -> time of cancellation: those events become STATUS:CANCELLED."""


def deadline_uid(deadline: Deadline) -> str:
    """Stable across extensions and re-renders: one phase visit, one calendar entry."""
    return f"{stable_id(deadline.procedure_id, 'deadline', str(deadline.seq))}@civicflow"


def _summary(deadline: Deadline, lang: str) -> str:
    text = _TEXT[lang]
    phase = deadline.phase_title.get(lang) if deadline.phase_title else deadline.phase_id
    key = "hearing" if deadline.phase_type == "hearing" else "other"
    summary = text[key].format(procedure=deadline.procedure_title, phase=phase)
    if deadline.round > 1:
        summary += f" ({text['round']} {deadline.round})"
    return summary


def _description(deadline: Deadline, lang: str, url: str) -> str:
    text = _TEXT[lang]
    phase = deadline.phase_title.get(lang) if deadline.phase_title else deadline.phase_id
    lines = [f"{text['procedure']}: {deadline.procedure_title}", f"{text['phase']}: {phase}"]
    if deadline.round > 1:
        lines.append(f"{text['round']}: {deadline.round}")
    start = format_date(deadline.period_start, lang) if deadline.period_start else "…"
    end = format_date(deadline.period_end, lang)
    lines.append(f"{text['period']}: {start} {text['until']} {end}")
    if deadline.extensions and deadline.planned_end and deadline.planned_end != deadline.period_end:
        lines.append(text["extended"].format(planned=format_date(deadline.planned_end, lang)))
    lines.append(url)
    return "\n".join(lines)


_END = b"END:VCALENDAR\r\n"
EVENT_CACHE_SIZE = 20_000
"""Rendered VEVENTs kept (about 0.5 KB each): icalendar needs ~1 ms per event, so a feed of
thousands of deadlines that calendar apps poll all day is rendered once per change."""


@functools.lru_cache(maxsize=EVENT_CACHE_SIZE)
def _event(
    deadline: Deadline,
    lang: str,
    alarm_days: int | None,
    site_url: str,
    cancelled_at: datetime | None,
) -> bytes:
    """One VEVENT as iCalendar text; a pure function of its arguments, hence cached."""
    url = procedure_url(site_url, deadline.procedure_id)
    summary = _summary(deadline, lang)
    event = icalendar.Event()
    event.add("uid", deadline_uid(deadline))
    event.add("sequence", deadline.extensions + (1 if cancelled_at is not None else 0))
    stamp = max(deadline.updated_at, cancelled_at or deadline.updated_at).astimezone(UTC)
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("dtstart", deadline.period_end)
    event.add("dtend", deadline.period_end + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", _description(deadline, lang, url))
    event.add("url", url)
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    event.add("status", "CONFIRMED" if cancelled_at is None else "CANCELLED")
    event.add("categories", [deadline.phase_type])
    if alarm_days is not None:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _TEXT[lang]["alarm"].format(summary=summary))
        alarm.add("trigger", -timedelta(days=alarm_days))
        event.add_component(alarm)
    text: bytes = event.to_ical()
    return text


def deadline_calendar(deadlines: Sequence[Deadline], options: CalendarOptions) -> bytes:
    """An iCalendar document with one all-day VEVENT per deadline.

    The VCALENDAR frame is built by icalendar; the events, rendered by icalendar one by one
    and cached, go in before its END line.
    """
    lang = options.lang
    cal = icalendar.Calendar()
    cal.add("prodid", "-//civicflow//Public deadlines//DE")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    name = _TEXT[lang]["calendar"].format(name=options.name)
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Berlin")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    frame: bytes = cal.to_ical()
    if not frame.endswith(_END):  # icalendar changed how it ends a document
        msg = f"unexpected end of an icalendar document: {frame[-40:]!r}"
        raise RuntimeError(msg)
    events = [
        _event(
            d,
            lang,
            options.alarm_days,
            options.site_url,
            options.cancelled.get((d.procedure_id, d.seq)),
        )
        for d in deadlines
    ]
    return b"".join([frame[: -len(_END)], *events, _END])


@dataclass(frozen=True)
class AtomOptions:
    feed_url: str  # absolute URL of this document (rel=self)
    site_url: str  # absolute base URL of the site, ends with "/"
    lang: str = "de"
    municipality: str | None = None  # AGS key of a municipality's feed
    municipality_name: str | None = None  # its display name


def _entry_id(item: RecentItem) -> str:
    return f"urn:uuid:{stable_id(item.procedure_id, 'atom', item.kind, item.item_id)}"


def atom_feed(items: Sequence[RecentItem], options: AtomOptions, licence: Licence) -> bytes:
    """An Atom document of new procedures and decisions, newest first."""
    text = _TEXT[options.lang]
    fg = FeedGenerator()
    fg.id(f"urn:uuid:{stable_id('atom', options.municipality or '*', options.lang)}")
    if options.municipality:
        fg.title(text["feed_in"].format(ags=options.municipality_name or options.municipality))
    else:
        fg.title(text["feed"])
    fg.link(href=options.feed_url, rel="self", type="application/atom+xml")
    fg.link(href=options.site_url, rel="alternate", type="text/html")
    fg.language(options.lang)
    fg.author({"name": licence.publisher})
    fg.rights(f"{licence.name} ({licence.id}): {licence.url}")
    fg.generator("civicflow")
    newest = max((i.published_at for i in items), default=datetime(2000, 1, 1, tzinfo=UTC))
    fg.updated(newest)
    for item in items:
        entry = fg.add_entry(order="append")
        entry.id(_entry_id(item))
        if item.kind == "decision":
            entry.title(text["decision"].format(title=item.title))
            link = f"{procedure_url(options.site_url, item.procedure_id)}#decision-{item.item_id}"
        else:
            entry.title(text["new_procedure"].format(title=item.title))
            link = procedure_url(options.site_url, item.procedure_id)
        entry.link(href=link, rel="alternate", type="text/html")
        entry.updated(item.published_at)
        entry.published(item.published_at)
        entry.category(term=item.kind)
        summary = item.summary or item.procedure_title
        entry.summary(summary)
    xml: bytes = fg.atom_str(pretty=True)
    return xml


# ----------------------------------------------------------------------------- routes


def _lang(request: Request) -> str:
    lang = query_value(request, "lang") or "de"
    if lang not in LANGS:
        raise BadParameterError("lang", f"expected one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def _alarm_days(request: Request) -> int | None:
    raw = query_value(request, "alarm_days")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_ALARM_DAYS:
        raise BadParameterError(
            "alarm_days", f"expected a whole number of days from 0 to {MAX_ALARM_DAYS}, got {raw!r}"
        )
    return int(raw)


def _since(request: Request) -> date:
    raw = query_value(request, "since")
    if raw is None:
        return datetime.now(UTC).date() - MUNICIPALITY_WINDOW
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameterError("since", f"expected a date YYYY-MM-DD, got {raw!r}") from None


def _feed_response(
    request: Request, body: bytes, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """The document, or 304 if the poller has it already: both feeds are deterministic
    (no generation time inside), so a hash of the bytes is a strong ETag."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    common = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    wanted = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=common)
    return Response(body, media_type=media_type, headers={**common, **(headers or {})})


def _calendar_response(request: Request, body: bytes, filename: str) -> Response:
    disposition = {"Content-Disposition": f'inline; filename="{filename}"'}
    return _feed_response(request, body, ICS_TYPE, disposition)


def _municipality_name(request: Request, ags: str) -> str:
    """The configured display name (`CIVICFLOW_WEB_MUNICIPALITY_NAMES`), else the AGS key."""
    settings = getattr(request.app.state, "settings", None)
    if isinstance(settings, WebSettings):
        return settings.municipality_name(ags)
    return ags


async def procedure_calendar(request: Request) -> Response:
    try:
        check_known(request, {"lang", "alarm_days"})
        lang, alarm = _lang(request), _alarm_days(request)
    except BadParameterError as err:
        return bad_request(request, err)
    procedure_id = request.path_params["procedure_id"]
    pool = pool_of(request)
    title = await readmodel_feeds.procedure_title(pool, procedure_id)
    if title is None:
        return not_found(request, f"no procedure {procedure_id!r}")
    deadlines = await readmodel.list_deadlines(pool, procedure_id=procedure_id)
    cancelled = await readmodel_feeds.cancelled_deadlines(pool, procedure_id=procedure_id)
    options = CalendarOptions(
        name=title, lang=lang, alarm_days=alarm, site_url=site_url(request), cancelled=cancelled
    )
    body = await run_in_threadpool(deadline_calendar, deadlines, options)
    return _calendar_response(request, body, "deadlines.ics")


async def municipality_calendar(request: Request) -> Response:
    try:
        check_known(request, {"lang", "alarm_days", "since"})
        lang, alarm, since = _lang(request), _alarm_days(request), _since(request)
        ags = municipality_param(request.path_params["ags"], "ags")
    except BadParameterError as err:
        return bad_request(request, err)
    pool = pool_of(request)
    deadlines = await readmodel.list_deadlines(pool, municipality=ags, since=since)
    cancelled = await readmodel_feeds.cancelled_deadlines(pool, municipality=ags)
    options = CalendarOptions(
        name=_municipality_name(request, ags),
        lang=lang,
        alarm_days=alarm,
        site_url=site_url(request),
        cancelled=cancelled,
    )
    body = await run_in_threadpool(deadline_calendar, deadlines, options)  # CPU: off the loop
    return _calendar_response(request, body, f"deadlines-{ags}.ics")


async def atom(request: Request) -> Response:
    try:
        check_known(request, {"lang", "municipality"})
        lang = _lang(request)
        raw = query_value(request, "municipality")
        ags = municipality_param(raw, "municipality") if raw else None
    except BadParameterError as err:
        return bad_request(request, err)
    items = await readmodel.recent_items(pool_of(request), ATOM_LIMIT, municipality=ags)
    options = AtomOptions(
        feed_url=str(request.url),
        site_url=site_url(request),
        lang=lang,
        municipality=ags,
        municipality_name=_municipality_name(request, ags) if ags else None,
    )
    body = atom_feed(items, options, licence_of(request))
    return _feed_response(request, body, ATOM_TYPE)


routes: list[BaseRoute] = [
    Route(
        "/procedures/{procedure_id}/deadlines.ics",
        procedure_calendar,
        name="procedure_deadlines_ics",
    ),
    Route(
        "/municipalities/{ags}/deadlines.ics",
        municipality_calendar,
        name="municipality_deadlines_ics",
    ),
    Route("/feeds/atom.xml", atom, name="atom_feed"),
]
