"""Query parameters of the HTML pages: parsed into read-model filters, or a clear 400.

Empty values count as absent, because a GET form submits every field (an unselected filter
arrives as `municipality=`). Parameter names the page does not know are ignored (links from
elsewhere carry tracking parameters); values that are present but wrong are refused with a
message naming the parameter and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import cast

from worker.web import catalogue
from worker.web.i18n import LANGUAGES
from worker.web.models import (
    MAX_PAGE_SIZE,
    PHASE_TYPES,
    PROCEDURE_STATES,
    PUBLIC_COMMITMENT_STATUSES,
    CommitmentFilters,
    PageRequest,
    PhaseType,
    ProcedureFilters,
    ProcedureState,
    PublicCommitmentStatus,
)

__all__ = [
    "MAX_QUERY_LENGTH",
    "BadParameterError",
    "commitment_filters",
    "language",
    "page_request",
    "procedure_filters",
]

MAX_QUERY_LENGTH = 200
_AGS = re.compile(r"^\d{8}$")
_ID = re.compile(r"^[^\x00-\x1f]{1,200}$")


class BadParameterError(ValueError):
    """A query parameter has a wrong value; `name` and `expected` go on the 400 page."""

    def __init__(self, name: str, expected: str, got: str) -> None:
        self.name = name
        self.expected = expected
        self.got = got
        super().__init__(f"{name}: expected {expected}, got {got!r}")


def _get(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _get(params, name)
    if value is not None and value not in allowed:
        raise BadParameterError(name, "one of " + ", ".join(allowed), value)
    return value


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = _get(params, name)
    if raw is None:
        return default
    expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    try:
        value = int(raw)
    except ValueError:
        raise BadParameterError(name, expected, raw) from None
    if value < low or (high is not None and value > high):
        raise BadParameterError(name, expected, raw)
    return value


def language(params: Mapping[str, str]) -> str | None:
    """`lang` if given (de or en), else None (then Accept-Language decides)."""
    return _choice(params, "lang", LANGUAGES)


def page_request(params: Mapping[str, str], default_size: int = 20) -> PageRequest:
    return PageRequest(
        page=_int(params, "page", 1, 1, 1_000_000),
        page_size=_int(params, "page_size", default_size, 1, MAX_PAGE_SIZE),
    )


def _municipality(params: Mapping[str, str]) -> str | None:
    value = _get(params, "municipality")
    if value is not None and not _AGS.match(value):
        raise BadParameterError("municipality", "an AGS key of 8 digits", value)
    return value


def procedure_filters(params: Mapping[str, str]) -> ProcedureFilters:
    query = _get(params, "q")
    if query is not None and len(query) > MAX_QUERY_LENGTH:
        raise BadParameterError("q", f"at most {MAX_QUERY_LENGTH} characters", query[:20] + "...")
    return ProcedureFilters(
        municipality=_municipality(params),
        kind=_choice(params, "kind", tuple(catalogue.kinds())),
        phase=cast("PhaseType | None", _choice(params, "phase", PHASE_TYPES)),
        state=cast("ProcedureState | None", _choice(params, "state", PROCEDURE_STATES)),
        query=query,
    )


def commitment_filters(params: Mapping[str, str]) -> CommitmentFilters:
    procedure_id = _get(params, "procedure")
    if procedure_id is not None and not _ID.match(procedure_id):
        raise BadParameterError("procedure", "a procedure identifier", procedure_id[:20])
    organisation = _get(params, "organisation")
    if organisation is not None and len(organisation) > MAX_QUERY_LENGTH:
        raise BadParameterError(
            "organisation", f"at most {MAX_QUERY_LENGTH} characters", organisation[:20] + "..."
        )
    status = _choice(params, "status", PUBLIC_COMMITMENT_STATUSES)
    return CommitmentFilters(
        procedure_id=procedure_id,
        municipality=_municipality(params),
        status=cast("PublicCommitmentStatus | None", status),
        organisation=organisation,
    )
