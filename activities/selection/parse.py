"""Reading a pool (CSV text) and quotas (YAML text) with errors that name the row or field.

Pure functions on text: the caller reads the files, so the same code serves the CLI and an
activity that received the text in its payload. Messages never echo personal data beyond the
offending cell, and they always say what was expected.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml
from pydantic import ValidationError

from activities.selection.model import Person, Quotas

__all__ = ["PoolError", "QuotaError", "parse_pool_csv", "parse_quotas_yaml"]


class PoolError(ValueError):
    """The pool CSV cannot be used; the message names the row (file line) and column."""


class QuotaError(ValueError):
    """The quota file cannot be used; the message names the field."""


def parse_quotas_yaml(text: str, *, source: str = "quotas") -> Quotas:
    """Parse `features: {feature: {category: {min, max, target?}}}` into `Quotas`."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"{source}: not valid YAML: {err}"
        raise QuotaError(msg) from err
    if not isinstance(data, dict) or "features" not in data:
        msg = f"{source}: expected a mapping with a 'features' key (feature -> category -> quota)"
        raise QuotaError(msg)
    features = data["features"]
    if isinstance(features, dict):
        # YAML reads unquoted 16-29 as a string but 1 or true as int/bool: categories are text.
        data = {
            **data,
            "features": {
                str(f): ({str(c): q for c, q in cats.items()} if isinstance(cats, dict) else cats)
                for f, cats in features.items()
            },
        }
    try:
        return Quotas.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        msg = f"{source}: {where}: {first['msg']}"
        raise QuotaError(msg) from err


def parse_pool_csv(
    text: str,
    quotas: Quotas,
    *,
    source: str = "pool",
    id_column: str = "id",
    household_column: str = "household",
    households: bool = False,
) -> list[Person]:
    """Parse the pool; every quota feature must be a column and every value a known category.

    Row numbers are file lines (the header is line 1), as a spreadsheet shows them.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        msg = f"{source}: empty file, expected a header row with {id_column!r} and the features"
        raise PoolError(msg)
    reader.fieldnames = header
    required = [id_column, *quotas.features]
    if households:
        required.append(household_column)
    missing = [name for name in required if name not in header]
    if missing:
        msg = (
            f"{source}: line 1: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"header has {', '.join(repr(h) for h in header)}"
        )
        raise PoolError(msg)
    people: list[Person] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(value is None for value in row.values()):
            msg = f"{source}: line {line}: expected {len(header)} cells like the header"
            raise PoolError(msg)
        person_id = row[id_column].strip()
        if not person_id:
            msg = f"{source}: line {line}: column {id_column!r} is empty, expected a person id"
            raise PoolError(msg)
        if person_id in first_line:
            msg = (
                f"{source}: line {line}: duplicate person id {person_id!r} "
                f"(first seen on line {first_line[person_id]})"
            )
            raise PoolError(msg)
        first_line[person_id] = line
        features: dict[str, str] = {}
        for feature, categories in quotas.features.items():
            value = row[feature].strip()
            if value not in categories:
                msg = (
                    f"{source}: line {line}: column {feature!r} has unknown category {value!r}; "
                    f"expected one of {', '.join(repr(c) for c in categories)}"
                )
                raise PoolError(msg)
            features[feature] = value
        household = row[household_column].strip() if households else None
        if households and not household:
            msg = (
                f"{source}: line {line}: column {household_column!r} is empty, "
                "expected an address key"
            )
            raise PoolError(msg)
        people.append(Person(id=person_id, features=features, household=household))
    if not people:
        msg = f"{source}: no people after the header"
        raise PoolError(msg)
    return people
