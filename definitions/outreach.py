"""Milieu-aware outreach in the procedure language: target shares and what to do about gaps.

The position paper asks that who is invited rests on knowledge of citizens' lifeworlds, so
an invitation phase may name the population shares of groups in the procedure's area (milieu
shares of a neighbourhood, age bands from the municipal statistics office). While
registration is open the engine compares the registrations with these targets, reports the
groups that fall short (status query, an event for moderators) and, when `second_wave` is
set, draws a second, targeted wave of addresses from a population-register extract.

Targets are data in the definition (`targets`) or in a CSV file next to it (`targets_csv`,
columns `feature,category,share`); the loader reads the CSV, reports its problems as
`file.csv:line:col`, and inlines the shares into `targets`, so the definition snapshot a
procedure pins (and its content hash) holds the numbers themselves, never a file name only.
The same shares, times the panel size, give the quotas of a stratified lottery.

Models only, pure: `definitions.schema` uses them in `InvitationSettings.outreach`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Annotated, Final, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from definitions import calendar

__all__ = [
    "CSV_NAME",
    "SHARE_TOLERANCE",
    "Outreach",
    "SecondWave",
    "TargetsCsvError",
    "parse_targets_csv",
]

SHARE_TOLERANCE: Final = 0.01
"""Shares of one feature must add up to 1 within this (published statistics are rounded)."""

CSV_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\.csv$")
"""A relative file name below the definition's folder: no absolute path, no segment that
starts with a dot (so no `..`)."""

_REF = r"\$\{[a-z][a-z0-9_]*\}"
Feature = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Category = Annotated[str, Field(min_length=1, max_length=64)]


def _check_duration(value: str) -> str:
    if re.fullmatch(_REF, value) is None:
        calendar.parse_duration(value)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True
    )


class SecondWave(_Model):
    """A second invitation wave aimed at the groups that are missing."""

    letters: Annotated[int, Field(ge=1)] | Annotated[str, Field(pattern=f"^{_REF}$")]
    """How many addresses the wave draws (letters sent), or ${parameter}."""
    register_extract: str = Field(min_length=1, max_length=200)
    """The population-register extract to draw from: a file name in the worker's selection
    data folder (CIVICFLOW_SELECTION_DATA_DIR), usually ${parameter}; never personal data."""


class Outreach(_Model):
    """Target shares per group and how the engine follows them up while registration runs."""

    targets: dict[Feature, dict[Category, float]] = Field(default_factory=dict)
    """Feature -> category -> share of the area's population (shares of a feature sum to 1)."""
    targets_csv: str | None = Field(default=None, pattern=CSV_NAME.pattern)
    """Alternatively a CSV next to the definition with columns feature,category,share."""
    ratio: float = Field(default=0.8, gt=0.0, le=1.0)
    """A group is under-represented when its share of registrations is below ratio × target."""
    min_profiles: int = Field(default=10, ge=1)
    """Compare only once this many registrants have declared their groups (fewer say little)."""
    check_after: Annotated[str, AfterValidator(_check_duration)] = "P7D"
    """When after the phase starts moderators get the comparison (and a second wave starts)."""
    quota_slack: float = Field(default=0.1, ge=0.0, le=1.0)
    """Panel quotas of a lottery: target share × panel size, minus / plus this fraction."""
    second_wave: SecondWave | None = None
    """Draw a targeted second wave of addresses when groups are missing at `check_after`."""

    @model_validator(mode="after")
    def _shares(self) -> Self:
        if not self.targets:
            msg = "targets: expected at least one feature with shares (or targets_csv)"
            raise ValueError(msg)
        for feature, shares in self.targets.items():
            if not shares:
                msg = f"targets.{feature}: expected at least one category with its share"
                raise ValueError(msg)
            bad = [c for c, s in shares.items() if not 0.0 <= s <= 1.0]
            if bad:
                msg = f"targets.{feature}.{bad[0]}: expected a share between 0 and 1"
                raise ValueError(msg)
            total = math.fsum(shares.values())
            if abs(total - 1.0) > SHARE_TOLERANCE:
                msg = f"targets.{feature}: shares add up to {total:.3f}, expected 1"
                raise ValueError(msg)
        return self


class TargetsCsvError(ValueError):
    """A problem of a targets CSV: `line` and `column` are 1-based, `text` the source line."""

    def __init__(self, message: str, line: int, column: int, text: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.text = text


_HEADER: Final = ("feature", "category", "share")


def parse_targets_csv(text: str) -> dict[str, dict[str, float]]:
    """`feature,category,share` rows to targets; raises `TargetsCsvError` at the first problem.

    Empty lines and lines starting with `#` are skipped (for the source of the figures).
    A share may be a fraction (0.12) or a percentage (12%).
    """
    lines = text.splitlines()
    rows = [
        (number, line)
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise TargetsCsvError("empty file: expected a header feature,category,share", 1, 1, None)
    header_no, header_line = rows[0]
    header = tuple(cell.strip().lower() for cell in next(csv.reader([header_line])))
    if header != _HEADER:
        msg = f"header: expected feature,category,share, got {','.join(header)}"
        raise TargetsCsvError(msg, header_no, 1, header_line)
    targets: dict[str, dict[str, float]] = {}
    first_line: dict[str, tuple[int, str]] = {}
    for number, line in rows[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        if len(cells) != 3:
            msg = f"expected 3 columns (feature,category,share), got {len(cells)}"
            raise TargetsCsvError(msg, number, 1, line)
        feature, category, raw = (cell.strip() for cell in cells)
        if re.fullmatch(r"[a-z][a-z0-9_]*", feature) is None or len(feature) > 64:
            msg = f"feature {feature!r}: expected a lower-case name (a-z, 0-9, _)"
            raise TargetsCsvError(msg, number, 1, line)
        column = line.index(",") + 2
        if not category or len(category) > 64:
            msg = "category: expected 1 to 64 characters"
            raise TargetsCsvError(msg, number, column, line)
        share_column = line.rindex(",") + 2
        share = _share(raw)
        if share is None:
            msg = f"share {raw!r}: expected a number between 0 and 1 or a percentage (12%)"
            raise TargetsCsvError(msg, number, share_column, line)
        categories = targets.setdefault(feature, {})
        if category in categories:
            msg = f"{feature}={category} is listed twice"
            raise TargetsCsvError(msg, number, column, line)
        categories[category] = share
        first_line.setdefault(feature, (number, line))
    if not targets:
        raise TargetsCsvError("no rows: expected feature,category,share lines", header_no, 1, None)
    for feature, shares in targets.items():
        total = math.fsum(shares.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            number, line = first_line[feature]
            msg = f"feature {feature}: shares add up to {total:.3f}, expected 1"
            raise TargetsCsvError(msg, number, 1, line)
    return targets


def _share(raw: str) -> float | None:
    text = raw.strip()
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1].strip(), 100.0
    try:
        value = float(text) / scale
    except ValueError:
        return None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return None
    return value
