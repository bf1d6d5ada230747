"""German and English texts of the public site, language choice and date formats.

German is the default (a German public body's site); English is chosen with `?lang=en` or,
without the parameter, by the browser's Accept-Language. Dates are written out as people read
them ("10. Dezember 2026", "10 December 2026"), always beside a machine-readable
`<time datetime>`. Kept as plain dictionaries: two languages and ~150 strings do not need
gettext catalogues, and a missing key fails the test that renders every page.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "LANGUAGES",
    "Translator",
    "format_date",
    "format_datetime",
    "label",
    "negotiate",
]

LANGUAGES = ("de", "en")
BERLIN = ZoneInfo("Europe/Berlin")

_MONTHS = {
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
}  # fmt: skip

# UI strings: key -> (German, English). `{name}` placeholders are filled by `Translator`.
TEXTS: dict[str, tuple[str, str]] = {
    "skip": ("Zum Inhalt springen", "Skip to content"),
    "nav_label": ("Hauptnavigation", "Main navigation"),
    "nav_procedures": ("Vorhaben", "Procedures"),
    "nav_commitments": ("Selbstverpflichtungen", "Commitments"),
    "nav_reviews": ("Überprüfungsberichte", "Review reports"),
    "language_switch": ("English", "Deutsch"),
    "language_switch_label": ("Switch to English", "Auf Deutsch wechseln"),
    "tagline": ("Öffentliche Beteiligungsverfahren", "Public participation procedures"),
    "procedures_title": ("Vorhabenliste", "List of procedures"),
    "procedures_intro": (
        "Alle Beteiligungsverfahren: wann Sie sich beteiligen können, was entschieden wurde.",
        "All participation procedures: when you can take part and what was decided.",
    ),
    "filters": ("Filter", "Filters"),
    "search": ("Suche im Titel", "Search in titles"),
    "municipality": ("Gemeinde", "Municipality"),
    "kind": ("Verfahrensart", "Kind of procedure"),
    "phase": ("Aktuelle Phase", "Current phase"),
    "state": ("Stand", "State"),
    "any": ("alle", "any"),
    "apply": ("Anzeigen", "Show"),
    "reset": ("Filter zurücksetzen", "Reset filters"),
    "results": ("{total} Vorhaben", "{total} procedures"),
    "results_caption": (
        "Vorhaben, Seite {page} von {pages}", "Procedures, page {page} of {pages}"
    ),
    "no_results": ("Keine Vorhaben gefunden.", "No procedures found."),
    "title": ("Titel", "Title"),
    "started": ("Begonnen", "Started"),
    "deadline": ("Frist", "Deadline"),
    "until": ("bis {date}", "until {date}"),
    "pagination": ("Seitennavigation", "Pagination"),
    "previous": ("Vorherige Seite", "Previous page"),
    "next": ("Nächste Seite", "Next page"),
    "page_of": ("Seite {page} von {pages}", "Page {page} of {pages}"),
    "procedure_facts": ("Eckdaten", "Key facts"),
    "reference": ("Kennung", "Identifier"),
    "definition": ("Verfahren", "Procedure type"),
    "current_phase": ("Aktuelle Phase", "Current phase"),
    "no_current_phase": ("keine (Verfahren beendet)", "none (procedure ended)"),
    "not_started": ("noch nicht begonnen", "not started yet"),
    "ended_on": ("Beendet am {date}", "Ended on {date}"),
    "take_part": ("So können Sie sich beteiligen", "How to take part"),
    "take_part_open": (
        "Bis einschließlich {date} können Sie sich beteiligen.",
        "You can take part until and including {date}.",
    ),
    "take_part_open_no_end": (
        "Sie können sich in dieser Phase beteiligen.", "You can take part in this phase."
    ),
    "take_part_who": ("Wer: {audiences}", "Who: {audiences}"),
    "take_part_limited": (
        "Dieser Durchgang ist beschränkt auf: {audience}.",
        "This round is limited to: {audience}.",
    ),
    "take_part_types": ("Möglich sind: {types}", "Accepted: {types}"),
    "take_part_channels": ("Wege: {channels}", "Channels: {channels}"),
    "take_part_votes": ("Abstimmung über Vorschläge", "Voting on proposals"),
    "take_part_registrations": ("Anmeldung", "Registration"),
    "take_part_signatures": ("Unterschriften", "Signatures"),
    "take_part_proposals": ("Vorschläge", "Proposals"),
    "take_part_portal": ("Zum Beteiligungsportal", "Go to the participation portal"),
    "preclusion": (
        "Hinweis: Nicht fristgerecht abgegebene Stellungnahmen können bei der Beschlussfassung "
        "unberücksichtigt bleiben (§ 4a Abs. 6 BauGB).",
        "Note: statements not submitted in time may be disregarded in the decision "
        "(BauGB s. 4a(6)).",
    ),
    "take_part_closed": (
        "Derzeit ist keine Beteiligung möglich.", "Taking part is not possible at the moment."
    ),
    "timeline": ("Ablauf und Fristen", "Timeline and deadlines"),
    "timeline_caption": (
        "Phasen des Verfahrens mit gesetzlichen Fristen",
        "Phases of the procedure with legal deadlines",
    ),
    "phase_col": ("Phase", "Phase"),
    "period": ("Zeitraum", "Period"),
    "legal_period": ("Vorgesehene Dauer", "Prescribed duration"),
    "status": ("Status", "Status"),
    "status_done": ("abgeschlossen", "completed"),
    "status_current": ("läuft", "in progress"),
    "status_upcoming": ("geplant", "planned"),
    "round": ("Durchgang {round}", "Round {round}"),
    "extended": ("verlängert (ursprünglich bis {date})", "extended (originally until {date})"),
    "open_end": ("ohne feste Frist", "no fixed deadline"),
    "extensions": ("Fristverlängerungen", "Deadline extensions"),
    "extension_item": (
        "{at}: Frist von {old} auf {new} verlängert", "{at}: deadline moved from {old} to {new}"
    ),
    "reason": ("Grund: {reason}", "Reason: {reason}"),
    "statements": ("Stellungnahmen", "Statements"),
    "statements_caption": (
        "Anzahl der Stellungnahmen je Durchgang (ohne persönliche Daten)",
        "Number of statements per round (no personal data)",
    ),
    "statements_none": ("Bisher keine Stellungnahmen.", "No statements so far."),
    "round_col": ("Durchgang", "Round"),
    "total": ("Gesamt", "Total"),
    "late": ("davon verspätet", "of which late"),
    "by_type": ("nach Art", "by type"),
    "decisions": ("Entscheidungen", "Decisions"),
    "decisions_none": ("Noch keine Entscheidungen.", "No decisions yet."),
    "decided_by": ("Entschieden von {body} am {date}", "Decided by {body} on {date}"),
    "outcome": ("Ergebnis", "Outcome"),
    "documents": ("Rechtsgrundlagen und Dokumente", "Legal basis and documents"),
    "documents_none": ("Keine Dokumente.", "No documents."),
    "feeds": ("Abonnieren und Daten", "Subscribe and data"),
    "calendar_feed": ("Fristen als Kalender (iCal)", "Deadlines as calendar (iCal)"),
    "commitments_title": ("Selbstverpflichtungen", "Commitments"),
    "commitments_intro": (
        "Was Verwaltung, Gemeinderat und andere zugesagt haben, und ob es eingehalten wird.",
        "What administration, council and others committed to, and whether it is kept.",
    ),
    "commitments_caption": ("Selbstverpflichtungen, Seite {page} von {pages}",
                            "Commitments, page {page} of {pages}"),
    "commitments_none": ("Keine Selbstverpflichtungen gefunden.", "No commitments found."),
    "commitments_count": ("{total} Selbstverpflichtungen", "{total} commitments"),
    "owner": ("Verantwortlich", "Owner"),
    "aim": ("Messbares Ziel", "Measurable aim"),
    "due": ("Fällig am", "Due on"),
    "progress": ("Fortschritt", "Progress"),
    "progress_reports": ("Fortschrittsberichte", "Progress reports"),
    "no_reports": ("noch kein Bericht", "no report yet"),
    "organisation": ("Organisation", "Organisation"),
    "procedure": ("Vorhaben", "Procedure"),
    "reviews_title": ("Überprüfungsberichte", "Review reports"),
    "reviews_intro": (
        "Regelmäßige Berichte über den Stand der Selbstverpflichtungen.",
        "Regular reports on the state of the commitments.",
    ),
    "reviews_none": ("Noch keine Überprüfungsberichte.", "No review reports yet."),
    "review_heading": ("Bericht {cycle} vom {date}", "Report {cycle} of {date}"),
    "review_caption": ("Stand der Selbstverpflichtungen", "State of the commitments"),
    "commitment": ("Selbstverpflichtung", "Commitment"),
    "review_summary": (
        "{done} erledigt, {overdue} überfällig, {other} weitere",
        "{done} done, {overdue} overdue, {other} other",
    ),
    "error_404_title": ("Seite nicht gefunden", "Page not found"),
    "error_400_title": ("Ungültige Anfrage", "Bad request"),
    "error_500_title": ("Interner Fehler", "Internal error"),
    "error_back": ("Zur Vorhabenliste", "Back to the list of procedures"),
    "error_500_text": (
        "Die Seite kann gerade nicht angezeigt werden. Bitte versuchen Sie es später erneut.",
        "The page cannot be shown right now. Please try again later.",
    ),
    "unknown_procedure": ("Es gibt kein Vorhaben mit der Kennung „{id}“.",
                          "There is no procedure with the identifier “{id}”."),
    "parameter": ("Parameter", "Parameter"),
    "expected": ("Erwartet", "Expected"),
    "bad_parameter": ("Der Parameter „{name}“ hat einen ungültigen Wert ({detail}).",
                      "The parameter “{name}” has an invalid value ({detail})."),
    "unknown_page": ("Unter dieser Adresse gibt es keine Seite.",
                     "There is no page at this address."),
    "licence": ("Daten: {name}", "Data: {name}"),
    "open_data": ("Offene Daten", "Open data"),
    "atom_feed": ("Neuigkeiten (Atom)", "News (Atom)"),
    "municipality_calendar_feed": ("Alle Fristen in {name} als Kalender (iCal)",
                                   "All deadlines in {name} as calendar (iCal)"),
    "municipality_atom_feed": ("Neuigkeiten aus {name} (Atom)", "News from {name} (Atom)"),
}  # fmt: skip

# Labels of values from the data (phase types, states, statement types, ...).
LABELS: dict[str, tuple[str, str]] = {
    "phase.invitation": ("Einladung und Bekanntmachung", "Invitation and announcement"),
    "phase.hearing": ("Anhörung und Stellungnahmen", "Hearing and statements"),
    "phase.deliberation": ("Beratung und Abwägung", "Deliberation and weighing"),
    "phase.commitment": ("Beschluss und Selbstverpflichtungen", "Decision and commitments"),
    "phase.review": ("Überprüfung", "Review"),
    "state.running": ("läuft", "running"),
    "state.paused": ("unterbrochen", "paused"),
    "state.completed": ("abgeschlossen", "completed"),
    "state.cancelled": ("abgebrochen", "cancelled"),
    "commitment.on_track": ("im Plan", "on track"),
    "commitment.overdue": ("überfällig", "overdue"),
    "commitment.done": ("erledigt", "done"),
    "commitment.dropped": ("aufgegeben", "dropped"),
    "status.open": ("offen", "open"),
    "status.in_progress": ("in Arbeit", "in progress"),
    "status.done": ("erledigt", "done"),
    "status.overdue": ("überfällig", "overdue"),
    "status.dropped": ("aufgegeben", "dropped"),
    "statement.objection": ("Einwendung", "objection"),
    "statement.suggestion": ("Anregung", "suggestion"),
    "statement.question": ("Frage", "question"),
    "statement.statement": ("Stellungnahme", "statement"),
    "statement.contribution": ("Beitrag", "contribution"),
    "statement.proposal": ("Vorschlag", "proposal"),
    "statement.comment": ("Kommentar", "comment"),
    "statement.idea": ("Idee", "idea"),
    "statement.problem": ("Problem", "problem"),
    "statement.resource": ("Ressource", "resource"),
    "statement.no_concerns": ("keine Bedenken", "no concerns"),
    "channel.online": ("online", "online"),
    "channel.post": ("per Post", "by post"),
    "channel.email": ("per E-Mail", "by e-mail"),
    "channel.in_person": ("persönlich vor Ort", "in person"),
    "outcome.adopted": ("beschlossen", "adopted"),
    "outcome.rejected": ("abgelehnt", "rejected"),
    "outcome.draft_changed": ("Entwurf geändert", "draft changed"),
    "outcome.send_back": ("zurückverwiesen", "sent back"),
    "outcome.done": ("erledigt", "done"),
    "end.deadline": ("Fristende", "end of period"),
    "end.moderator_decision": ("Entscheidung der Moderation", "moderator's decision"),
    "end.quorum": ("Quorum erreicht", "quorum reached"),
    "end.all_authorities_answered": ("alle Behörden haben geantwortet",
                                     "all authorities answered"),
    "end.admin": ("Entscheidung der Verwaltung", "administration's decision"),
    "end.cancelled": ("abgebrochen", "cancelled"),
    "duration.one_month_min_30_days": ("ein Monat, mindestens 30 Tage",
                                       "one month, at least 30 days"),
}  # fmt: skip

_UNITS = {
    "Y": (("Jahr", "Jahre"), ("year", "years")),
    "M": (("Monat", "Monate"), ("month", "months")),
    "W": (("Woche", "Wochen"), ("week", "weeks")),
    "D": (("Tag", "Tage"), ("day", "days")),
}
_ISO_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


def label(kind: str, value: str | None, lang: str) -> str:
    """The human label of a data value (`label("phase", "hearing", "de")`); the value itself
    if there is none, so a new statement type never breaks a page."""
    if value is None:
        return ""
    if kind == "duration":
        return _duration(value, lang)
    found = LABELS.get(f"{kind}.{value}")
    if found is None:
        return value.replace("_", " ")
    return found[1] if lang == "en" else found[0]


def _duration(value: str, lang: str) -> str:
    named = LABELS.get(f"duration.{value}")
    if named is not None:
        return named[1] if lang == "en" else named[0]
    match = _ISO_DURATION.match(value)
    if match is None or not any(match.groups()):
        return value
    parts = []
    for unit, amount in zip("YMWD", match.groups(), strict=True):
        if amount:
            n = int(amount)
            singular, plural = _UNITS[unit][1 if lang == "en" else 0]
            parts.append(f"{n} {singular if n == 1 else plural}")
    return ", ".join(parts)


def format_date(value: date | None, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(BERLIN).date()
    month = _MONTHS["en" if lang == "en" else "de"][value.month - 1]
    return (
        f"{value.day} {month} {value.year}"
        if lang == "en"
        else f"{value.day}. {month} {value.year}"
    )


def format_datetime(value: datetime | None, lang: str) -> str:
    if value is None:
        return ""
    local = value.astimezone(BERLIN)
    day = format_date(local.date(), lang)
    return f"{day}, {local:%H:%M}" + ("" if lang == "en" else " Uhr")


class Translator:
    """`t("key", name=value)` in one language; unknown keys raise (caught by tests)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "de"

    def __call__(self, key: str, **values: object) -> str:
        de, en = TEXTS[key]
        text = en if self.lang == "en" else de
        return text.format(**values) if values else text


def negotiate(query_lang: str | None, accept_language: str | None, default: str) -> str:
    """The page language: `query_lang` if given (validated by the caller), else the best of
    Accept-Language among de/en, else `default`."""
    if query_lang:
        return query_lang
    best, best_q = default, 0.0
    for part in (accept_language or "").split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best
