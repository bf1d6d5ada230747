"""Semantic checks of a schema-valid definition; every problem at once, with positions.

`check(definition, source_map)` returns a list of `Problem`s (empty: the definition is usable):
- references: unknown phase (`start_phase`, `transitions.to`), audience or role not defined,
  template not found (`definitions/templates/<id>.de.j2`), parameter used but not declared or
  of the wrong type, `decision` not among the phase's `decision_options`, conditions that can
  never hold in that phase (e.g. `quorum_reached` without a quorum);
- graph (the engine's rules, see `definitions.schema`): missing start, unreachable phase, no
  path to the end, loop with no exit, transitions after an unconditional one;
- law: a hearing period shorter than the minimum its legal basis states (`LEGAL_MINIMA`, e.g.
  BauGB §3(2) and §4(2): 30 days). Shortened repeat periods (§4a(3)) are not held to it;
- outreach (`definitions.outreach`): the phase must take registrations, target features must
  be among the phase's strata (when it names strata), the comparison must fall inside the
  period, and the second wave's parameters must have the right types.

`check_bound_parameters(definition, bound)` applies the legal minimum to the parameter values
of a start request (pure; the engine may call it from workflow code).
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from definitions.outreach import SecondWave
from definitions.problems import Problem, SourceMap
from definitions.schema import (
    END,
    PARAM_REF,
    AllAuthoritiesAnswered,
    CommitmentPhase,
    Definition,
    InvitationPhase,
    Phase,
    Quorum,
    ReviewPhase,
    resolve_duration,
)

__all__ = [
    "LEGAL_MINIMA",
    "Partial",
    "check",
    "check_bound_parameters",
    "legal_minimum",
    "template_exists",
]

LEGAL_MINIMA: Final[dict[tuple[str, str], int]] = {
    ("baugb", "§3(2)"): 30,  # one month, at least 30 days
    ("baugb", "§4(2)"): 30,  # authorities: one month, at least 30 days
}
"""Minimum length in days of a hearing period, by (law, section) of the legal basis."""

Path = tuple[str | int, ...]
_CONDITION_PHASES: Final[dict[str, tuple[type, ...]]] = {
    "cycles_remaining": (ReviewPhase,),
    "overdue": (ReviewPhase, CommitmentPhase),
    "all_commitments_done": (ReviewPhase, CommitmentPhase),
}


def template_exists(template_id: str) -> bool:
    """True when `definitions/templates/<id>.de.j2` ships with the package."""
    root = importlib.resources.files("definitions").joinpath("templates")
    return root.joinpath(f"{template_id}.de.j2").is_file()


def _section_key(law: str, section: str) -> tuple[str, str]:
    compact = re.sub(r"\s+|abs\.?", "", section.lower())
    compact = re.sub(r"^§?(\d+[a-z]?)\(?(\d+)\)?$", r"§\1(\2)", compact)
    return law.strip().lower(), compact


def legal_minimum(definition: Definition) -> tuple[int, str] | None:
    """The strictest hearing minimum (days, citation) the definition's legal basis states."""
    best: tuple[int, str] | None = None
    for ref in definition.legal_basis:
        days = LEGAL_MINIMA.get(_section_key(ref.law, ref.section))
        if days is not None and (best is None or days > best[0]):
            best = (days, f"{ref.law} {ref.section}")
    return best


def _strings(data: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))
    elif isinstance(data, str):
        yield path, data


def _duration_fields(phase: Phase, base: Path) -> Iterator[tuple[Path, str]]:
    if phase.period is not None:
        for name in ("duration", "lead", "repeat_duration"):
            value = getattr(phase.period, name)
            if value is not None:
                yield (*base, "period", name), value
    if isinstance(phase, CommitmentPhase) and phase.settings.due_within is not None:
        yield (*base, "settings", "due_within"), phase.settings.due_within
    if isinstance(phase, ReviewPhase):
        yield (*base, "settings", "interval"), phase.settings.interval
    if isinstance(phase, InvitationPhase) and phase.settings.outreach is not None:
        yield (*base, "settings", "outreach", "check_after"), phase.settings.outreach.check_after


def _int_fields(phase: Phase, base: Path) -> Iterator[tuple[Path, int | str]]:
    for index, end in enumerate(phase.ends_when):
        if isinstance(end, Quorum):
            yield (*base, "ends_when", index, "count"), end.count
    settings: Any = getattr(phase, "settings", None)
    for name in ("panel_size", "invitations", "sessions", "cycles"):
        value = getattr(settings, name, None)
        if value is not None:
            yield (*base, "settings", name), value
    if phase.accepts.votes is not None and phase.accepts.votes.points_per_voter is not None:
        yield (*base, "accepts", "votes", "points_per_voter"), phase.accepts.votes.points_per_voter
    wave = _second_wave(phase)
    if wave is not None:
        yield (*base, "settings", "outreach", "second_wave", "letters"), wave.letters


def _second_wave(phase: Phase) -> SecondWave | None:
    if isinstance(phase, InvitationPhase) and phase.settings.outreach is not None:
        return phase.settings.outreach.second_wave
    return None


def _string_fields(phase: Phase, base: Path) -> Iterator[tuple[Path, int | str]]:
    wave = _second_wave(phase)
    if wave is not None:
        yield (
            (*base, "settings", "outreach", "second_wave", "register_extract"),
            (wave.register_extract),
        )


@dataclass(frozen=True)
class Partial:
    """The file had schema problems in some phases; `definition` holds only the others.

    `phase_index[i]` is the position in the file of the definition's i-th phase; the phases
    in `dropped_phase_ids` exist in the file but failed the schema. The graph checks are
    skipped (they would report the consequences of the dropped phases).
    """

    phase_index: list[int]
    dropped_phase_ids: frozenset[str]


class _Checker:
    def __init__(
        self,
        definition: Definition,
        source_map: SourceMap,
        templates: Callable[[str], bool],
        partial: Partial | None,
    ) -> None:
        self.template_exists = templates
        self.partial = partial
        self.d = definition
        self.map = source_map
        self.problems: list[Problem] = []
        self.phase_ids = [p.id for p in definition.phases]
        self.audiences = {a.id for a in definition.audiences}
        self.roles = {r.id for r in definition.roles}
        self.params = {p.name: p for p in definition.parameters}

    def add(self, path: Path, message: str) -> None:
        if self.partial and len(path) > 1 and path[0] == "phases" and isinstance(path[1], int):
            path = ("phases", self.partial.phase_index[path[1]], *path[2:])
        self.problems.append(self.map.problem(path, message))

    def unique(self, field: str, ids: list[str], noun: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(ids):
            if item in seen:
                self.add((field, index), f"{noun} {item!r} is declared twice")
            seen.add(item)

    def audience(self, path: Path, audience_id: str | None) -> None:
        if audience_id is not None and audience_id not in self.audiences:
            known = ", ".join(sorted(self.audiences)) or "none"
            self.add(path, f"audience {audience_id!r} is not defined (defined: {known})")

    def phase_ref(self, path: Path, phase_id: str) -> None:
        dropped = self.partial.dropped_phase_ids if self.partial else frozenset()
        if phase_id != END and phase_id not in self.phase_ids and phase_id not in dropped:
            known = ", ".join(self.phase_ids)
            self.add(path, f"unknown phase {phase_id!r} (phases: {known}, or {END})")

    def reminder(self, path: Path, phase: Phase, days_before: int) -> None:
        """A `before_end` reminder needs a period that is longer than its lead."""
        if phase.period is None:
            self.add(path, "before_end needs a period in this phase")
            return
        # Only the main period: a shorter repeat round (§4a(3)) may simply remind at once.
        defaults = {p.name: p.default for p in self.d.parameters}
        try:
            shortest = resolve_duration(phase.period.duration, defaults).guaranteed_days()
        except ValueError:
            return  # reported by the parameter checks
        if days_before >= shortest:
            msg = (
                f"{days_before} days before the end is not within the period "
                f"{phase.period.duration} (at least {shortest} days)"
            )
            self.add(path, msg)

    def declarations(self) -> None:
        self.unique("parameters", [p.name for p in self.d.parameters], "parameter")
        self.unique("roles", [r.id for r in self.d.roles], "role")
        self.unique("audiences", [a.id for a in self.d.audiences], "audience")
        for index, audience in enumerate(self.d.audiences):
            for k, role in enumerate(audience.roles):
                if role not in self.roles:
                    path = ("audiences", index, "roles", k)
                    self.add(path, f"role {role!r} is not defined")
        if self.d.start_phase is not None and self.d.start_phase not in self.phase_ids:
            msg = f"missing start: start phase {self.d.start_phase!r} is not a phase"
            self.add(("start_phase",), msg)

    def parameters(self) -> None:
        for path, text in _strings(self.map.data):
            for name in re.findall(r"\$\{([^}]*)\}", text):
                if name not in self.params:
                    known = ", ".join(sorted(self.params)) or "none"
                    msg = f"parameter {name!r} is used but not declared (declared: {known})"
                    self.add(path, msg)
        for i, phase in enumerate(self.d.phases):
            base: Path = ("phases", i)
            typed: list[tuple[Path, int | str, str]]
            typed = [(p, v, "duration") for p, v in _duration_fields(phase, base)]
            typed += [(p, v, "integer") for p, v in _int_fields(phase, base)]
            typed += [(p, v, "string") for p, v in _string_fields(phase, base)]
            for path, value, wanted in typed:
                match = PARAM_REF.match(value) if isinstance(value, str) else None
                param = self.params.get(match.group(1)) if match else None
                if param is not None and param.type != wanted:
                    msg = f"parameter {param.name!r} is of type {param.type}, expected {wanted}"
                    self.add(path, msg)

    def phase_refs(self, i: int, phase: Phase) -> None:
        base: Path = ("phases", i)
        for k, audience in enumerate(phase.audiences):
            self.audience((*base, "audiences", k), audience)
        for k, note in enumerate(phase.notifications):
            self.audience((*base, "notifications", k, "audience"), note.audience)
            if not self.template_exists(note.template):
                msg = f"template {note.template!r} not found (definitions/templates/"
                self.add((*base, "notifications", k, "template"), msg + f"{note.template}.de.j2)")
            if note.days_before is not None:
                self.reminder((*base, "notifications", k, "days_before"), phase, note.days_before)
        for k, end in enumerate(phase.ends_when):
            if isinstance(end, AllAuthoritiesAnswered):
                path = (*base, "ends_when", k, "audience")
                self.audience(path, end.audience)
                kinds = {a.id: a.kind for a in self.d.audiences}
                if kinds.get(end.audience, "authorities") not in ("authorities", "stakeholders"):
                    msg = (
                        f"audience {end.audience!r} is {kinds[end.audience]}, expected authorities"
                    )
                    self.add(path, msg)
        escalate = getattr(phase.settings, "escalate_to", None)
        self.audience((*base, "settings", "escalate_to"), escalate)
        for k, actor in enumerate(getattr(phase.settings, "actors", [])):
            if actor not in self.roles:
                self.add((*base, "settings", "actors", k), f"role {actor!r} is not defined")
        has_quorum = any(isinstance(e, Quorum) for e in phase.ends_when)
        for k, tr in enumerate(phase.transitions):
            path = (*base, "transitions", k)
            self.phase_ref((*path, "to"), tr.to)
            self.audience((*path, "limited_to"), tr.limited_to)
            self.audience((*path, "escalate_to"), tr.escalate_to)
            if tr.decision is not None and tr.decision not in phase.decision_options:
                known = ", ".join(phase.decision_options) or "none"
                msg = f"decision {tr.decision!r} is not one of decision_options ({known})"
                self.add((*path, "decision"), msg)
            if tr.when in ("quorum_reached", "quorum_missed") and not has_quorum:
                self.add((*path, "when"), f"{tr.when} needs a quorum in ends_when")
            allowed = _CONDITION_PHASES.get(tr.when)
            if allowed is not None and not isinstance(phase, allowed):
                types = " or ".join(
                    sorted(t.__name__.removesuffix("Phase").lower() for t in allowed)
                )
                self.add((*path, "when"), f"{tr.when} can only hold in a {types} phase")
            if tr.round == "next" and isinstance(phase, InvitationPhase) and tr.to == phase.id:
                self.add((*path, "round"), "an invitation cannot start its own next round")

    def outreach(self, i: int, phase: Phase) -> None:
        """Outreach compares registrations with targets inside the phase's period."""
        if not isinstance(phase, InvitationPhase) or phase.settings.outreach is None:
            return
        outreach = phase.settings.outreach
        base: Path = ("phases", i, "settings", "outreach")
        if not phase.accepts.registrations:
            msg = "outreach compares registrations: the phase needs accepts.registrations: true"
            self.add(base, msg)
        strata = phase.settings.strata
        for feature in outreach.targets:
            if strata and feature not in strata:
                msg = f"feature {feature!r} is not one of the phase's strata ({', '.join(strata)})"
                self.add((*base, "targets", feature), msg)
        if phase.period is None:
            self.add((*base, "check_after"), "check_after needs a period in this phase")
            return
        defaults = {p.name: p.default for p in self.d.parameters}
        try:
            shortest = resolve_duration(phase.period.duration, defaults).guaranteed_days()
            after = resolve_duration(outreach.check_after, defaults).guaranteed_days()
        except ValueError:
            return  # reported by the parameter checks
        if after >= shortest:
            msg = (
                f"check_after {outreach.check_after} is not within the period "
                f"{phase.period.duration} (at least {shortest} days): registration would be over"
            )
            self.add((*base, "check_after"), msg)

    def graph(self) -> None:
        edges: dict[str, list[str]] = {}
        for i, phase in enumerate(self.d.phases):
            targets: list[str] = []
            unconditional = False
            for k, tr in enumerate(phase.transitions):
                if unconditional:
                    msg = "never taken: an earlier transition has when: always"
                    self.add(("phases", i, "transitions", k), msg)
                    continue
                targets.append(tr.to)
                unconditional = tr.when == "always" and not (
                    tr.round == "next" and self.d.max_rounds is not None
                )
            if not unconditional:
                targets.append(self.d.next_in_order(phase.id))
            edges[phase.id] = [t for t in targets if t == END or t in self.phase_ids]
        start = self.d.start_phase if self.d.start_phase in self.phase_ids else None
        start = start or (self.phase_ids[0] if self.d.start_phase is None else None)
        if start is None:
            return
        reachable = _closure([start], edges)
        for i, phase_id in enumerate(self.phase_ids):
            if phase_id not in reachable:
                self.add(("phases", i, "id"), f"unreachable phase: no path from {start!r}")
        reverse: dict[str, list[str]] = {}
        for source, targets in edges.items():
            for target in targets:
                reverse.setdefault(target, []).append(source)
        finishing = _closure([END], reverse)
        if start not in finishing:
            self.add(("phases",), f"missing end: no path from {start!r} reaches the end")
            return
        for i, phase_id in enumerate(self.phase_ids):
            if phase_id in reachable and phase_id not in finishing:
                self.add(("phases", i, "id"), "loop with no exit: this phase never reaches the end")

    def legal(self) -> None:
        minimum = legal_minimum(self.d)
        if minimum is None:
            return
        days, citation = minimum
        defaults = {p.name: p.default for p in self.d.parameters}
        for i, phase in enumerate(self.d.phases):
            if phase.type != "hearing" or phase.period is None:
                continue
            try:
                duration = resolve_duration(phase.period.duration, defaults)
            except ValueError:
                continue  # reported by the parameter checks
            if duration.guaranteed_days() < days:
                msg = (
                    f"period {phase.period.duration} ({duration.canonical()}) is shorter than "
                    f"the legal minimum of {days} days ({citation}); use one_month_min_30_days"
                )
                self.add(("phases", i, "period", "duration"), msg)


def check(
    definition: Definition,
    source_map: SourceMap | None = None,
    *,
    templates: Callable[[str], bool] = template_exists,
    partial: Partial | None = None,
) -> list[Problem]:
    """Every semantic problem of `definition`, positioned through `source_map`."""
    source_map = source_map or SourceMap(data=definition.model_dump(mode="json"))
    checker = _Checker(definition, source_map, templates, partial)
    checker.declarations()
    checker.parameters()
    for i, phase in enumerate(definition.phases):
        checker.phase_refs(i, phase)
        checker.outreach(i, phase)
    if partial is None:
        checker.graph()
    checker.legal()
    return checker.problems


def check_bound_parameters(definition: Definition, bound: dict[str, Any]) -> list[str]:
    """Legal-minimum problems of the hearing periods under these parameter values."""
    minimum = legal_minimum(definition)
    if minimum is None:
        return []
    days, citation = minimum
    problems = []
    for phase in definition.phases:
        if phase.type == "hearing" and phase.period is not None:
            duration = resolve_duration(phase.period.duration, bound)
            if duration.guaranteed_days() < days:
                problems.append(
                    f"phase {phase.id}: period {duration.canonical()} is shorter than the "
                    f"legal minimum of {days} days ({citation})"
                )
    return problems


def _closure(starts: list[str], edges: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
