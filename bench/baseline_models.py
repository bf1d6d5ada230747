"""Payloads of the bare baseline workflows (`bench.baseline`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["BareBatch", "BareIntakeState", "BareItem", "BareReceipt"]


class BareItem(BaseModel):
    key: str = Field(min_length=1)
    text: str = Field(min_length=1)


class BareBatch(BaseModel):
    items: list[BareItem] = Field(min_length=1)


class BareReceipt(BaseModel):
    key: str
    sequence: int


class BareIntakeState(BaseModel):
    received: int = 0
    runs: int = 1
