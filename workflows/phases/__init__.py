"""One small runner per phase type; `RUNNERS` maps a definition's `type` to its runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from workflows.engine import EngineBase
from workflows.phases import commitment, deliberation, hearing, invitation, review

__all__ = ["RUNNERS", "Runner"]

Runner = Callable[[EngineBase, str], Awaitable[str]]

RUNNERS: dict[str, Runner] = {
    "invitation": invitation.run,
    "hearing": hearing.run,
    "deliberation": deliberation.run,
    "commitment": commitment.run,
    "review": review.run,
}
