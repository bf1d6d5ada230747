"""What every update validator checks, as pure functions that raise `Rejected`.

Validators call them before anything enters the history; handlers call them again after a
start-up wait (the definition may not have been loaded when the update arrived). A rejection
message names the field, what was wrong and what was expected; the procedure keeps running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from definitions.schema import Definition, Phase
from workflows import messages as m
from workflows.errors import Code, Rejected
from workflows.state import ProcedureState

__all__ = ["Rejected", "StatementTarget", "statement_target"]

DRAFT_OUTCOMES = ("draft_changed", "draft_unchanged")


@dataclass(frozen=True)
class StatementTarget:
    """The phase visit a statement belongs to, and whether it came after the deadline."""

    phase_id: str
    round: int
    late: bool


def current_phase(defn: Definition, state: ProcedureState) -> Phase:
    if state.phase_id is None:
        msg = "the procedure has not entered a phase yet"
        raise Rejected(Code.PROCEDURE_NOT_READY, msg)
    return defn.phase(state.phase_id)


def require_active(state: ProcedureState, *, allow_paused: bool = False) -> None:
    if state.life == "paused" and not allow_paused:
        msg = "the procedure is paused; try again after it is resumed"
        raise Rejected(Code.PROCEDURE_PAUSED, msg)
    if state.life in ("completed", "cancelled"):
        msg = f"the procedure is {state.life}; it accepts nothing any more"
        raise Rejected(Code.PROCEDURE_ENDED, msg)


_KEY_KINDS = {
    "admin": "an administrator's update",
    "progress": "a progress report",
    "draw_panel": "a panel draw",
}
"""How a message names what a key was used for, where the key kind is not a plain noun."""


def require_new_key(state: ProcedureState, kind: str, key: str) -> None:
    if state.has_key(kind, key):
        what = _KEY_KINDS.get(kind, f"a {kind}")
        msg = f"idempotency_key {key!r}: {what} with this key was already received"
        raise Rejected(Code.DUPLICATE_IDEMPOTENCY_KEY, msg)


def known_roles(defn: Definition) -> set[str]:
    return {r.id for r in defn.roles}


def require_role(defn: Definition, role: str, allowed: set[str] | None = None) -> None:
    """`role` must be a role or audience of the definition (and in `allowed`, if given)."""
    every = known_roles(defn) | {a.id for a in defn.audiences}
    if role not in every:
        msg = f"role {role!r}: unknown; expected one of {', '.join(sorted(every))}"
        raise Rejected(Code.UNKNOWN_ROLE, msg)
    if allowed is not None and role not in allowed:
        msg = f"role {role!r}: not allowed here; expected one of {', '.join(sorted(allowed))}"
        raise Rejected(Code.ROLE_NOT_ALLOWED, msg)


def require_admin(defn: Definition, role: str) -> None:
    require_role(defn, role, known_roles(defn))


def require_accepts(phase: Phase, what: str, accepted: bool) -> None:
    if not accepted:
        msg = f"phase {phase.id!r} ({phase.type}) does not accept {what}"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)


def statement_target(
    defn: Definition, state: ProcedureState, item: m.StatementInput, now: datetime
) -> StatementTarget:
    """Check one statement; say which phase visit it belongs to and whether it is late."""
    require_active(state)
    phase = current_phase(defn, state)
    types = set(phase.accepts.statement_types) | (
        {"proposal"} if phase.accepts.proposals else set()
    )
    if types:
        target, rnd, deadline = phase, state.round, state.next_deadline
        limited = state.limited_to
    elif state.last_hearing is not None:  # after the hearing: kept, flagged late (§4a(6))
        target = defn.phase(state.last_hearing)
        rnd, deadline, limited = state.last_hearing_round, state.last_hearing_deadline, None
        types = set(target.accepts.statement_types)
    else:
        msg = f"phase {phase.id!r} ({phase.type}) does not accept statements yet"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)
    if item.statement_type not in types:
        msg = (
            f"statement_type {item.statement_type!r}: not accepted in phase {target.id!r}; "
            f"expected one of {', '.join(sorted(types))}"
        )
        raise Rejected(Code.STATEMENT_TYPE_NOT_ACCEPTED, msg)
    allowed = {limited} if limited else set(target.audiences) | known_roles(defn)
    if not target.audiences and not limited:
        allowed = None  # type: ignore[assignment]
    require_role(defn, item.role, allowed)
    limit = state.start.limits.max_statement_chars
    if len(item.text) > limit:
        msg = f"text: {len(item.text)} characters, at most {limit} allowed"
        raise Rejected(Code.STATEMENT_TOO_LARGE, msg)
    late = target.id != phase.id or (deadline is not None and now >= deadline)
    return StatementTarget(phase_id=target.id, round=rnd, late=late)


def check_register(defn: Definition, state: ProcedureState, data: m.RegisterInput) -> None:
    require_active(state)
    require_new_key(state, "registration", data.idempotency_key)
    phase = current_phase(defn, state)
    accepted = phase.accepts.registrations or phase.accepts.signatures
    require_accepts(phase, "registrations or signatures", accepted)
    require_role(defn, data.role)


def check_vote(
    defn: Definition, state: ProcedureState, data: m.CastVoteInput, vote_id: str
) -> None:
    require_active(state)
    require_new_key(state, "vote", data.idempotency_key)
    phase = current_phase(defn, state)
    settings = phase.accepts.votes
    if settings is None:
        require_accepts(phase, "votes", False)
        return
    require_role(defn, data.role)
    choices = ["yes", "no", "abstain"] if settings.method == "yes_no" else settings.options
    if choices and data.choice not in choices:
        msg = f"choice {data.choice!r}: expected one of {', '.join(choices)}"
        raise Rejected(Code.INVALID_CHOICE, msg)
    if vote_id in state.vote_keys:
        msg = f"voter_ref {data.voter_ref!r} already voted on proposal {data.proposal_id!r}"
        raise Rejected(Code.ALREADY_VOTED, msg)


def check_decision(defn: Definition, state: ProcedureState, data: m.RecordDecisionInput) -> None:
    require_active(state)
    require_new_key(state, "decision", data.idempotency_key)
    phase = current_phase(defn, state)
    require_admin(defn, data.role)
    options = list(phase.decision_options) + [t.decision for t in phase.transitions if t.decision]
    if options and data.outcome not in options and data.outcome not in DRAFT_OUTCOMES:
        expected = ", ".join(sorted({*options, *DRAFT_OUTCOMES}))
        msg = f"outcome {data.outcome!r}: expected one of {expected}"
        raise Rejected(Code.INVALID_OUTCOME, msg)
    if data.ends_phase and not any(e.kind == "moderator_decision" for e in phase.ends_when):
        msg = f"ends_phase: phase {phase.id!r} does not end by a moderator decision"
        raise Rejected(Code.PHASE_NOT_ENDED_BY_DECISION, msg)


def check_commitment(
    defn: Definition, state: ProcedureState, data: m.AddCommitmentInput, today: date
) -> None:
    require_active(state)
    require_new_key(state, "commitment", data.idempotency_key)
    phase = current_phase(defn, state)
    require_accepts(phase, "commitments", phase.accepts.commitments)
    require_role(defn, data.role)
    actors = list(getattr(phase.settings, "actors", []))
    if actors and data.owner_role not in actors:
        msg = f"owner_role {data.owner_role!r}: expected one of {', '.join(actors)}"
        raise Rejected(Code.ROLE_NOT_ALLOWED, msg)
    if data.due_date < today:
        msg = f"due_date {data.due_date.isoformat()}: must not lie in the past"
        raise Rejected(Code.DATE_IN_PAST, msg)


def check_progress(defn: Definition, state: ProcedureState, data: m.ReportProgressInput) -> None:
    require_active(state)
    require_new_key(state, "progress", data.idempotency_key)
    phase = current_phase(defn, state)
    accepted = phase.accepts.progress_reports or phase.type == "review"
    require_accepts(phase, "progress reports", accepted)
    require_role(defn, data.role)
    if data.commitment_id not in state.commitments:
        msg = f"commitment_id {data.commitment_id!r}: no such commitment"
        raise Rejected(Code.UNKNOWN_COMMITMENT, msg)


def check_extend(defn: Definition, state: ProcedureState, data: m.AdminExtendDeadlineInput) -> None:
    require_active(state, allow_paused=True)
    require_new_key(state, "admin", data.idempotency_key)
    phase = current_phase(defn, state)
    require_admin(defn, data.role)
    if phase.period is None or state.phase_end is None:
        msg = f"phase {phase.id!r} has no deadline to extend"
        raise Rejected(Code.DEADLINE_NOT_EXTENDABLE, msg)
    if not phase.period.extendable:
        msg = f"phase {phase.id!r}: its period is not extendable"
        raise Rejected(Code.DEADLINE_NOT_EXTENDABLE, msg)
    if data.new_end <= state.phase_end:
        msg = f"new_end {data.new_end.isoformat()}: must be after {state.phase_end.isoformat()}"
        raise Rejected(Code.DEADLINE_NOT_LATER, msg)


def check_admin(
    defn: Definition, state: ProcedureState, role: str, key: str, *, wants: str
) -> None:
    """advance / pause / resume / cancel: admin role, a state in which the action makes sense."""
    require_admin(defn, role)
    if state.life in ("completed", "cancelled"):
        msg = f"the procedure is {state.life}; cannot {wants}"
        raise Rejected(Code.PROCEDURE_ENDED, msg)
    if wants == "pause" and state.life == "paused":
        msg = "the procedure is already paused"
        raise Rejected(Code.PROCEDURE_PAUSED, msg)
    if wants == "resume" and state.life != "paused":
        msg = "the procedure is not paused"
        raise Rejected(Code.PROCEDURE_NOT_PAUSED, msg)
    if wants == "advance" and state.life == "paused":
        msg = "the procedure is paused; resume it before advancing"
        raise Rejected(Code.PROCEDURE_PAUSED, msg)
    require_new_key(state, "admin", key)
