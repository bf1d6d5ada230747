"""Planned phases of a pinned definition merged with the visits a procedure actually had.

The definition says what should happen (phases, periods, who may take part and how); the
event log says what did (visits with their periods and extensions). The procedure page shows
both side by side, so a citizen sees where the procedure stands and what comes next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from definitions.schema import PARAM_REF, Definition, HearingPhase, LocalizedText, Phase
from worker.web.models import Localized, Participation, PhaseVisit, PlannedPhase

__all__ = ["localized", "participation_of", "planned_phases", "role_title"]


def localized(text: LocalizedText) -> Localized:
    return Localized(de=text.de, en=text.en)


def role_title(defn: Definition | None, role_id: str) -> Localized | None:
    """The definition's title of a role (a deciding body, a commitment owner), if it has one."""
    if defn is None:
        return None
    return next((localized(r.title) for r in defn.roles if r.id == role_id), None)


def _audience_titles(defn: Definition, ids: list[str]) -> tuple[Localized, ...]:
    known = {a.id: localized(a.title) for a in defn.audiences}
    return tuple(known.get(i, Localized(i, i)) for i in ids)


def _resolve(value: str | None, params: Mapping[str, Any]) -> str | None:
    """A `${parameter}` reference replaced by the procedure's bound value."""
    if value is None:
        return None
    match = PARAM_REF.match(value)
    if match is None:
        return value
    bound = params.get(match.group(1))
    return str(bound) if bound is not None else value


def participation_of(defn: Definition, phase: Phase) -> Participation:
    """How the public takes part in `phase`, as the definition says."""
    accepts = phase.accepts
    hearing = phase if isinstance(phase, HearingPhase) else None
    return Participation(
        audiences=_audience_titles(defn, list(phase.audiences)),
        statement_types=tuple(accepts.statement_types),
        channels=tuple(hearing.settings.channels) if hearing is not None else (),
        votes=accepts.votes is not None,
        registrations=accepts.registrations,
        signatures=accepts.signatures,
        proposals=accepts.proposals,
        preclusion_warning=hearing.settings.preclusion_warning if hearing is not None else False,
    )


def planned_phases(
    defn: Definition,
    params: Mapping[str, Any],
    visits: tuple[PhaseVisit, ...],
    current: PhaseVisit | None,
) -> tuple[PlannedPhase, ...]:
    """Every phase of `defn` in definition order with its visits and a status."""
    out = []
    for phase in defn.phases:
        own = tuple(v for v in visits if v.phase_id == phase.id)
        status: Literal["done", "current", "upcoming"]
        if current is not None and current.phase_id == phase.id:
            status = "current"
        elif own:
            status = "done"
        else:
            status = "upcoming"
        period = phase.period
        out.append(
            PlannedPhase(
                phase_id=phase.id,
                phase_type=phase.type,
                title=localized(phase.title),
                description=localized(phase.description) if phase.description else None,
                duration=_resolve(period.duration, params) if period else None,
                counting=period.counting if period else None,
                participation=participation_of(defn, phase),
                visits=own,
                status=status,
            )
        )
    return tuple(out)
