"""The data of a selection: people in the pool, quotas per category, the chosen method.

Pydantic models so that the same objects travel as activity payloads and are written to the
report; the numeric work happens on arrays built from them (`instance.py`).
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CategoryQuota", "Method", "Person", "Quotas"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Method(enum.StrEnum):
    """How selection probabilities are chosen.

    LEXIMIN maximises the smallest probability, then the second smallest, and so on; MAXIMIN
    only the smallest; LEGACY is the greedy draw most sortition practitioners used before
    (Flanigan et al. 2021), kept as a baseline to show the difference.
    """

    LEXIMIN = "leximin"
    MAXIMIN = "maximin"
    LEGACY = "legacy"


class Person(_Model):
    """One registrant: a stable (pseudonymous) id, one category per feature, a household."""

    id: str = Field(min_length=1)
    features: dict[str, str]
    household: str | None = None


class CategoryQuota(_Model):
    """How many panel members a category must have; `target` is its population share."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)
    target: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> CategoryQuota:
        if self.min > self.max:
            msg = f"min {self.min} is greater than max {self.max}"
            raise ValueError(msg)
        return self


class Quotas(_Model):
    """Quotas per feature and category, e.g. `{"gender": {"female": {"min": 18, "max": 22}}}`.

    Every person has exactly one category per feature, so the categories of a feature
    partition the pool; the order of features and categories is kept for reports.
    """

    features: dict[str, dict[str, CategoryQuota]] = Field(min_length=1)

    @model_validator(mode="after")
    def _non_empty_features(self) -> Quotas:
        for feature, categories in self.features.items():
            if not categories:
                msg = f"feature {feature!r} has no categories"
                raise ValueError(msg)
        return self

    def categories(self) -> list[tuple[str, str]]:
        """All (feature, category) pairs in file order."""
        return [(f, c) for f, cats in self.features.items() for c in cats]

    def label(self, feature: str, category: str) -> str:
        """How reports and error messages name a category."""
        return f"{feature}={category}"
