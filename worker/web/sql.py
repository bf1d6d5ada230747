"""SQL helpers shared by the read model's queries."""

from __future__ import annotations

__all__ = ["ilike_pattern"]


def ilike_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
