"""The second, targeted invitation wave: a stratified draw of addresses from a register extract.

When registrations fall short of the target shares, more letters go to the missing groups.
The letters are split among the under-represented groups in proportion to how many
registrations each lacks (largest remainder), and each group's letters go to people of that
group drawn uniformly at random from the population-register extract (people already drawn
for an earlier group are skipped; a group with too few people passes its remaining letters
on to the next). The draw uses the same verifiable SHA-256 generator as the panel lottery,
seeded with the wave's stable id, so a retried activity draws the same addresses.

Pure functions on text and rows; the activity reads the extract and writes the result.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from activities.selection.draw import VerifiableRng, seed_digest
from activities.selection.outreach import GroupGap, WaveGroup

__all__ = ["Extract", "ExtractError", "WaveGroup", "allocate", "draw_wave", "parse_extract"]


class ExtractError(ValueError):
    """The extract cannot be used; the message names the file line and the column."""


class Extract(BaseModel):
    """Rows of a population-register extract (personal data: stays in the activity)."""

    model_config = ConfigDict(frozen=True)

    columns: list[str]
    rows: list[dict[str, str]]  # sorted by id: the canonical order of the draw
    sha256: str  # of the file as read, for the audit event


def parse_extract(text: str, features: Sequence[str], *, source: str = "extract") -> Extract:
    """CSV with an `id` column and one column per feature (others, e.g. address, are kept)."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    if not columns:
        msg = f"{source}: empty file, expected a header with id and {', '.join(features)}"
        raise ExtractError(msg)
    reader.fieldnames = columns
    missing = [c for c in ("id", *features) if c not in columns]
    if missing:
        msg = f"{source} line 1: missing column(s) {', '.join(missing)}; found {', '.join(columns)}"
        raise ExtractError(msg)
    rows: dict[str, dict[str, str]] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            msg = f"{source} line {line}: more cells than the header has columns"
            raise ExtractError(msg)
        clean = {k: (v or "").strip() for k, v in row.items()}
        pid = clean["id"]
        if not pid:
            raise ExtractError(f"{source} line {line}, column id: empty id")
        if pid in rows:
            raise ExtractError(f"{source} line {line}, column id: id {pid!r} appears twice")
        rows[pid] = clean
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Extract(columns=columns, rows=[rows[k] for k in sorted(rows)], sha256=digest)


def allocate(gaps: Sequence[GroupGap], letters: int) -> list[int]:
    """Letters per gap, proportional to `missing`, summing to `letters` (largest remainder)."""
    total = sum(g.missing for g in gaps)
    if total <= 0 or letters <= 0:
        return [0 for _ in gaps]
    raw = [letters * g.missing / total for g in gaps]
    base = [int(r) for r in raw]
    order = sorted(range(len(gaps)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[: letters - sum(base)]:
        base[i] += 1
    return base


def draw_wave(
    extract: Extract, gaps: Sequence[GroupGap], letters: int, seed: str
) -> tuple[list[dict[str, str]], list[WaveGroup]]:
    """The drawn rows (in draw order) and what each missing group got."""
    rng = VerifiableRng(seed_digest(seed))
    taken: set[str] = set()
    drawn: list[dict[str, str]] = []
    groups: list[WaveGroup] = []
    carry = 0
    for gap, allotted in zip(gaps, allocate(gaps, letters), strict=True):
        want = allotted + carry
        members = [
            r for r in extract.rows if r.get(gap.feature) == gap.category and r["id"] not in taken
        ]
        count = min(want, len(members))
        for i in range(count):  # partial Fisher-Yates, as in the panel draw
            j = i + rng.below(len(members) - i)
            members[i], members[j] = members[j], members[i]
        for row in members[:count]:
            taken.add(row["id"])
            drawn.append(row)
        carry = want - count
        groups.append(
            WaveGroup(
                feature=gap.feature,
                category=gap.category,
                missing=gap.missing,
                allotted=allotted,
                drawn=count,
            )
        )
    return drawn, groups
