"""Is the pool of a procedure's lottery made of that procedure's registered participants?

The pool CSV is an export (from civicflow's own registrations or a portal that registered
people through the `register` update), placed by an administrator in the data folder next
to population-register extracts. The panel it yields is published by participant id in the
`panel.selected` event and is invited afterwards, so a pool with other ids is a mistake
worth stopping before the draw: the wrong file (an extract instead of the registrations),
another procedure's export, or people who asked for their data to be erased. The check is
one indexed query over the pool's ids.

The error names how many ids are unknown and the file lines of the first few, not the ids
themselves: if the wrong file was chosen, its id column may be anything, and the message
ends up in the workflow history.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import asyncpg

__all__ = ["UnregisteredPoolError", "check_registered", "id_lines"]

SHOWN = 5


class UnregisteredPoolError(ValueError):
    """Pool ids that are not (or no longer) registered participants of the procedure."""


def id_lines(text: str, id_column: str = "id") -> list[tuple[str, int]]:
    """(id, file line) of each data row of an already validated pool CSV."""
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
    return [((row.get(id_column) or "").strip(), reader.line_num) for row in reader]


async def check_registered(
    pool: asyncpg.Pool,
    procedure_id: str,
    rows: Sequence[tuple[str, int]],
    *,
    source: str,
) -> None:
    """UnregisteredPoolError unless every id is a participant of the procedure, not erased."""
    ids = sorted({pid for pid, _ in rows})
    found = await pool.fetch(
        "SELECT participant_id, erased_at IS NOT NULL AS erased FROM participants "
        "WHERE procedure_id = $1 AND participant_id = ANY($2::text[])",
        procedure_id,
        ids,
    )
    registered = {row["participant_id"] for row in found if not row["erased"]}
    erased = {row["participant_id"] for row in found if row["erased"]}
    bad = [(pid, line) for pid, line in rows if pid not in registered]
    if not bad:
        return
    lines = ", ".join(str(line) for _, line in bad[:SHOWN])
    lines += " and more" if len(bad) > SHOWN else ""
    erased_count = sum(1 for pid, _ in bad if pid in erased)
    detail = f" ({erased_count} of them erased)" if erased_count else ""
    msg = (
        f"{source}: {len(bad)} of {len(rows)} person ids are not registered participants of "
        f"procedure {procedure_id!r}{detail}; first at line(s) {lines}. Expected the "
        "procedure's registrants by their participant_id (is this the right file?)"
    )
    raise UnregisteredPoolError(msg)
