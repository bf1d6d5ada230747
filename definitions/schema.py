"""The procedure definition model (pydantic v2, strict, `extra="forbid"`).

A definition is data; one generic `Procedure` workflow interprets it. Models are plain,
frozen and JSON-serialisable: `Definition.model_validate(d.model_dump(mode="json"))` gives `d`
back, validators are pure (no I/O), so workflow code may validate and use them.

How the engine interprets a definition
- **Parameters** (`parameters`): typed values with defaults; a start request may override
  them (`bind_parameters`). Any string field documented as `IntOrRef`/`DurationRef` may hold
  `${name}` instead of a literal; `resolve_duration` / `resolve_int` substitute the bound value.
- **Roles** are who acts (moderator, administration, council); **audiences** are who is
  addressed or takes part (the public, TöB, a random panel, `affected` = those concerned by a
  change). Notifications, phase audiences, `limited_to` and `escalate_to` name audiences.
- **Phase order**: the run starts with `start_phase` (default: the first phase). When a phase
  ends, its `transitions` are evaluated in order and the first whose `when` holds is taken. If
  none holds (or there are none), the run continues with the next phase in list order, and ends
  after the last one. `to: end` ends the procedure. A transition to the phase itself starts
  that phase again (e.g. the next yearly review cycle).
- **Conditions** (`Transition.when`), evaluated when the phase ends: `always`; `draft_changed`
  / `draft_unchanged` (an administrator marked the draft as changed during the phase);
  `quorum_reached` / `quorum_missed` (the phase's quorum end condition); `overdue` (a
  commitment is past its due date); `all_commitments_done`; `cycles_remaining` (a review phase
  has run fewer than `settings.cycles` times); `decision` with `decision: <option>` (the
  moderator's or council's decision, one of the phase's `decision_options`).
- **Rounds** (Durchgang, BauGB §4a(3)): the procedure starts in round 1. `round: next` adds one,
  `reset` sets 1, `same` keeps it. In rounds > 1 a phase's period uses `repeat_duration` when
  given, and a `limited_to` audience narrows who is invited and heard in the new round (and
  stays in force until a transition without `limited_to` is taken). `max_rounds` caps
  `round: next`: when the cap is reached that transition does not hold.
- **Deadlines** (`Phase.period`): the anchor date is the Europe/Berlin date on which the phase
  starts (`anchor: phase_start`), or the procedure start. Without `lead` the period is triggered
  by that event (`counting: from_event`, BGB §187(1)) unless `counting: from_day` (§187(2)). With
  `lead` ("from announcement + 7 days"), the phase start is the announcement, the period begins
  on `calendar.earliest_start_after_lead(anchor, lead)` and counts that day (§187(2)). The last
  day is `calendar.period_end(...)` (with §193 unless `apply_193: false`), the timer fires at
  `calendar.deadline_instant(last_day)`. Administrators may extend an `extendable` period.
- **Ends** (`ends_when`): the phase ends as soon as any listed condition holds: `deadline`
  (its period ran out), `quorum` (`count` of `of` reached), `moderator_decision`,
  `all_authorities_answered` (every member of `audience` has made a statement).
- **Notifications**: `on_start`, `on_end`, or `before_end` with `days_before` (N days before the
  deadline instant); `template` is the id of `definitions/templates/<id>.de.j2`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from definitions import calendar
from definitions.outreach import Outreach

__all__ = [
    "END",
    "PARAM_REF",
    "Accepts",
    "AllAuthoritiesAnswered",
    "Audience",
    "CommitmentPhase",
    "CommitmentSettings",
    "Condition",
    "DeadlineEnd",
    "Definition",
    "DeliberationPhase",
    "DeliberationSettings",
    "EndCondition",
    "HearingPhase",
    "HearingSettings",
    "InvitationPhase",
    "InvitationSettings",
    "LegalReference",
    "LocalizedText",
    "ModeratorDecision",
    "Notification",
    "Parameter",
    "Period",
    "Phase",
    "PhaseType",
    "Quorum",
    "ReviewPhase",
    "ReviewSettings",
    "Role",
    "Transition",
    "VoteSettings",
    "bind_parameters",
    "check_parameter_value",
    "resolve_duration",
    "resolve_int",
]

END = "end"
"""The transition target that ends the procedure."""

PARAM_REF = re.compile(r"^\$\{([a-z][a-z0-9_]*)\}$")
"""`${name}`: a reference to a declared parameter."""

_REF = r"\$\{[a-z][a-z0-9_]*\}"
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
DefinitionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
Version = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+){0,2}$")]


def _check_duration_ref(value: str) -> str:
    if PARAM_REF.match(value) is None:
        calendar.parse_duration(value)  # DurationError is a ValueError: a validation error
    return value


DurationRef = Annotated[
    str,
    AfterValidator(_check_duration_ref),
    Field(json_schema_extra={"pattern": f"^(?:{calendar.DURATION_PATTERN}|{_REF})$"}),
]
"""A duration expression of `definitions.calendar` or `${parameter}`."""
IntOrRef = int | Annotated[str, Field(pattern=f"^{_REF}$")]
PhaseType = Literal["invitation", "hearing", "deliberation", "commitment", "review"]
Condition = Literal[
    "always",
    "draft_changed",
    "draft_unchanged",
    "quorum_reached",
    "quorum_missed",
    "overdue",
    "all_commitments_done",
    "cycles_remaining",
    "decision",
]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True
    )


class LocalizedText(_Model):
    de: str = Field(min_length=1)
    en: str = Field(min_length=1)


class LegalReference(_Model):
    """A norm or guideline the procedure rests on, e.g. `law: BauGB, section: "§3(2)"`."""

    law: str = Field(min_length=1)
    section: str = ""
    url: str | None = None
    note: str | None = None


class Parameter(_Model):
    """A typed value a start request may set; `default` must have the declared type."""

    name: Slug
    type: Literal["duration", "integer", "boolean", "string"]
    default: int | bool | str
    description: str = ""
    minimum: int | None = None
    """Integers only: the smallest value a start request may set."""
    maximum: int | None = None
    """Integers only: the largest value a start request may set."""

    @model_validator(mode="after")
    def _default_has_type(self) -> Self:
        check_parameter_value(self, self.default)
        return self


class Role(_Model):
    id: Slug
    title: LocalizedText


class Audience(_Model):
    """Who is addressed. `kind` tells the selection activity where the members come from."""

    id: Slug
    title: LocalizedText
    kind: Literal[
        "public", "role", "stakeholders", "authorities", "panel", "participants", "affected"
    ]
    roles: list[Slug] = Field(default_factory=list)
    """With kind: role, the roles it consists of."""


class Period(_Model):
    """A deadline in the procedure language (see the module docstring for counting)."""

    duration: DurationRef
    """P14D, P2W, P1M, P10WD, 10 working days, one_month_min_30_days, or ${parameter}."""
    anchor: Literal["phase_start", "procedure_start"] = "phase_start"
    """The event the period counts from: the day the phase starts, or the procedure."""
    counting: Literal["from_event", "from_day"] = "from_event"
    """from_event: the anchor day is not counted (BGB §187(1)); from_day: it is (§187(2))."""
    lead: DurationRef | None = None
    """Announcement lead ("from announcement + 7 days"): the period begins after it has run."""
    repeat_duration: DurationRef | None = None
    """Period in rounds after the first (BauGB §4a(3): reasonably shortened)."""
    apply_193: bool = True
    """Move an end on a Saturday, Sunday or holiday of the Land to the next working day."""
    extendable: bool = True
    """Administrators may extend the period while it runs."""


class Notification(_Model):
    template: Slug
    """Template id: definitions/templates/<id>.de.j2 (and .en.j2)."""
    audience: Slug
    """Id of an audience of the definition."""
    when: Literal["on_start", "before_end", "on_end"]
    """When the phase starts, N days before its deadline, or when it ends."""
    days_before: int | None = Field(default=None, ge=1, le=365)
    """With when: before_end, the N."""

    @model_validator(mode="after")
    def _days_before_iff_before_end(self) -> Self:
        if (self.when == "before_end") != (self.days_before is not None):
            msg = "days_before is required with when: before_end and allowed only there"
            raise ValueError(msg)
        return self


class VoteSettings(_Model):
    method: Literal["yes_no", "approval", "points"]
    points_per_voter: IntOrRef | None = None
    options: list[str] = Field(default_factory=list)


class Accepts(_Model):
    """What participants may send while the phase runs (each an update of the workflow)."""

    statement_types: list[Slug] = Field(default_factory=list)
    votes: VoteSettings | None = None
    commitments: bool = False
    registrations: bool = False
    signatures: bool = False
    progress_reports: bool = False
    proposals: bool = False


class DeadlineEnd(_Model):
    kind: Literal["deadline"]


class Quorum(_Model):
    kind: Literal["quorum"]
    count: IntOrRef
    of: Literal["votes", "signatures", "registrations", "statements", "proposals"]


class ModeratorDecision(_Model):
    kind: Literal["moderator_decision"]


class AllAuthoritiesAnswered(_Model):
    kind: Literal["all_authorities_answered"]
    audience: Slug


EndCondition = Annotated[
    DeadlineEnd | Quorum | ModeratorDecision | AllAuthoritiesAnswered,
    Field(discriminator="kind"),
]


def _ends_on_deadline() -> list[EndCondition]:
    return [DeadlineEnd(kind="deadline")]


Channel = Literal["online", "post", "email", "in_person"]


def _default_channels() -> list[Channel]:
    return ["online", "post"]


class Transition(_Model):
    """Where to go when the phase ends; the first transition whose condition holds is taken."""

    when: Condition = "always"
    """The condition, evaluated when the phase ends (see the module docstring)."""
    decision: str | None = None
    """With when: decision, one of the phase's decision_options."""
    to: Slug
    """A phase id, or end."""
    round: Literal["same", "next", "reset"] = "same"
    """next: a new round (Durchgang, BauGB §4a(3)); reset: back to round 1."""
    limited_to: Slug | None = None
    """An audience id: the new round invites and hears only them (e.g. affected)."""
    escalate_to: Slug | None = None
    """An audience notified first (commitment_overdue), e.g. the council."""

    @model_validator(mode="after")
    def _decision_iff_when_decision(self) -> Self:
        if (self.when == "decision") != (self.decision is not None):
            msg = "decision is required with when: decision and allowed only there"
            raise ValueError(msg)
        return self


class _PhaseBase(_Model):
    id: Slug
    title: LocalizedText
    description: LocalizedText | None = None
    audiences: list[Slug] = Field(default_factory=list)
    period: Period | None = None
    notifications: list[Notification] = Field(default_factory=list)
    accepts: Accepts = Field(default_factory=Accepts)
    decision_options: list[str] = Field(default_factory=list)
    ends_when: list[EndCondition] = Field(default_factory=_ends_on_deadline, min_length=1)
    transitions: list[Transition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _deadline_needs_period(self) -> Self:
        if any(e.kind == "deadline" for e in self.ends_when) and self.period is None:
            msg = "ends_when contains deadline, so the phase needs a period"
            raise ValueError(msg)
        return self


class InvitationSettings(_Model):
    selection: Literal["public", "stakeholders", "authorities", "stratified_lottery"]
    announce: bool = True  # ortsübliche Bekanntmachung
    panel_size: IntOrRef | None = None
    strata: list[str] = Field(default_factory=list)  # e.g. age, gender, district, milieu
    invitations: IntOrRef | None = None  # letters sent for a lottery
    outreach: Outreach | None = None
    """Target shares per group: registrations are compared with them while the phase runs
    (see `definitions.outreach`); a lottery takes its quotas from them."""


class HearingSettings(_Model):
    channels: list[Channel] = Field(default_factory=_default_channels)
    per_authority: bool = False  # one statement per authority (TöB), tracked individually
    preclusion_warning: bool = False  # BauGB §4a(6): the announcement warns of preclusion
    late_statements: Literal["keep_flagged"] = "keep_flagged"  # never dropped
    receipts: bool = True


class DeliberationSettings(_Model):
    sessions: IntOrRef | None = None
    weighing: bool = False  # Abwägung: every statement gets an answer
    recommendations: bool = False
    publish_results: bool = True


class CommitmentSettings(_Model):
    council_decision: bool = False
    actors: list[Slug] = Field(default_factory=list)  # role ids that may commit
    due_within: DurationRef | None = None  # default due date of a commitment
    measurable_aims: bool = True


class ReviewSettings(_Model):
    interval: DurationRef = "P1Y"
    cycles: IntOrRef = 1
    escalate_to: Slug | None = None
    publish_report: bool = True


class InvitationPhase(_PhaseBase):
    type: Literal["invitation"]
    settings: InvitationSettings


class HearingPhase(_PhaseBase):
    type: Literal["hearing"]
    settings: HearingSettings = Field(default_factory=HearingSettings)


class DeliberationPhase(_PhaseBase):
    type: Literal["deliberation"]
    settings: DeliberationSettings = Field(default_factory=DeliberationSettings)


class CommitmentPhase(_PhaseBase):
    type: Literal["commitment"]
    settings: CommitmentSettings = Field(default_factory=CommitmentSettings)


class ReviewPhase(_PhaseBase):
    type: Literal["review"]
    settings: ReviewSettings = Field(default_factory=ReviewSettings)


Phase = Annotated[
    InvitationPhase | HearingPhase | DeliberationPhase | CommitmentPhase | ReviewPhase,
    Field(discriminator="type"),
]


class Definition(_Model):
    """One procedure variant: id and version identify it, the content hash pins it."""

    id: DefinitionId
    version: Version
    kind: Slug  # ProcedureKind search attribute, e.g. bauleitplanung, buergerrat
    title: LocalizedText
    description: LocalizedText | None = None
    legal_basis: list[LegalReference] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    audiences: list[Audience] = Field(default_factory=list)
    start_phase: Slug | None = None
    max_rounds: int | None = Field(default=None, ge=1)
    phases: list[Phase] = Field(min_length=1)

    @field_validator("phases")
    @classmethod
    def _unique_phase_ids(cls, phases: list[Phase]) -> list[Phase]:
        ids = [p.id for p in phases]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            msg = f"phase ids must be unique, repeated: {', '.join(duplicates)}"
            raise ValueError(msg)
        if END in ids:
            msg = f"{END!r} is reserved for the end of the procedure, not a phase id"
            raise ValueError(msg)
        return phases

    def phase(self, phase_id: str) -> Phase:
        """The phase with this id; KeyError if there is none."""
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def first_phase_id(self) -> str:
        return self.start_phase or self.phases[0].id

    def next_in_order(self, phase_id: str) -> str:
        """The fall-through successor: next phase in list order, or `END` after the last."""
        ids = [p.id for p in self.phases]
        index = ids.index(phase_id)
        return ids[index + 1] if index + 1 < len(ids) else END


def check_parameter_value(param: Parameter, value: object) -> None:
    """Raise ValueError unless `value` fits the parameter's type and bounds."""
    expected: dict[str, type] = {"integer": int, "boolean": bool, "string": str, "duration": str}
    ok = isinstance(value, expected[param.type])
    if param.type == "integer" and isinstance(value, bool):
        ok = False
    if not ok:
        msg = f"parameter {param.name}: expected {param.type}, got {value!r}"
        raise ValueError(msg)
    if param.type == "duration":
        calendar.parse_duration(str(value))
    if param.type == "integer" and isinstance(value, int):
        if param.minimum is not None and value < param.minimum:
            msg = f"parameter {param.name}: {value} is below the minimum {param.minimum}"
            raise ValueError(msg)
        if param.maximum is not None and value > param.maximum:
            msg = f"parameter {param.name}: {value} is above the maximum {param.maximum}"
            raise ValueError(msg)


def bind_parameters(definition: Definition, supplied: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by `supplied`; ValueError naming every unknown or bad value."""
    declared = {p.name: p for p in definition.parameters}
    problems = [f"unknown parameter {name!r}" for name in supplied if name not in declared]
    bound: dict[str, Any] = {}
    for name, param in declared.items():
        value = supplied.get(name, param.default)
        try:
            check_parameter_value(param, value)
        except ValueError as err:
            problems.append(str(err))
        bound[name] = value
    if problems:
        raise ValueError("; ".join(problems))
    return bound


def _lookup(value: str, params: dict[str, Any]) -> object:
    match = PARAM_REF.match(value)
    if match is None:
        return value
    try:
        return params[match.group(1)]
    except KeyError:
        msg = f"parameter {match.group(1)!r} is not bound"
        raise ValueError(msg) from None


def resolve_duration(value: str, params: dict[str, Any]) -> calendar.Duration:
    """Parse a `DurationRef`, substituting `${name}` from bound parameters."""
    return calendar.parse_duration(str(_lookup(value, params)))


def resolve_int(value: int | str, params: dict[str, Any]) -> int:
    """An `IntOrRef` as int, substituting `${name}` from bound parameters."""
    resolved = value if isinstance(value, int) else _lookup(value, params)
    if not isinstance(resolved, int) or isinstance(resolved, bool):
        msg = f"expected an integer for {value!r}, got {resolved!r}"
        raise ValueError(msg)
    return resolved
