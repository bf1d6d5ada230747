"""Search attributes civicflow keeps current on every procedure (never personal data).

Both the workflow (which upserts them) and the dev stack (which registers them on the
server) import these keys, so they are defined once, here.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

__all__ = [
    "ALL_SEARCH_ATTRIBUTES",
    "MUNICIPALITY",
    "NEXT_DEADLINE",
    "PHASE",
    "PROCEDURE_KIND",
    "PROCEDURE_STATE",
]

PROCEDURE_KIND = SearchAttributeKey.for_keyword("ProcedureKind")
MUNICIPALITY = SearchAttributeKey.for_keyword("Municipality")
PHASE = SearchAttributeKey.for_keyword("Phase")
PROCEDURE_STATE = SearchAttributeKey.for_keyword("ProcedureState")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")

ALL_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    PROCEDURE_KIND,
    MUNICIPALITY,
    PHASE,
    PROCEDURE_STATE,
    NEXT_DEADLINE,
)
