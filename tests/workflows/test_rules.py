"""The engine's pure rules: periods from the legal calendar, end conditions, transitions."""

from __future__ import annotations

from datetime import date
from typing import Any

from definitions.schema import Definition, bind_parameters
from tests.workflows.support import load_catalogue
from workflows import messages as m
from workflows import rules
from workflows.state import ProcedureState


def state_for(definition_id: str, **changes: Any) -> tuple[Definition, ProcedureState]:
    loaded = load_catalogue(definition_id)
    defn = Definition.model_validate(loaded.definition)
    start = m.StartProcedure(
        definition_id=definition_id, reference="r", title="t", municipality="08221000", land="BW"
    )
    st = ProcedureState(
        procedure_id="p",
        start=start,
        definition=loaded.definition,
        definition_version=loaded.version,
        definition_hash=loaded.content_hash,
        params=bind_parameters(defn, {}),
        life="running",
        **changes,
    )
    return defn, st


def test_publication_counts_its_first_day() -> None:
    defn, st = state_for("baugb-3-2")
    period = rules.compute_period(defn, defn.phase("hearing"), st, date(2024, 12, 7), st.params)
    assert period is not None
    assert (period.first_day, period.last_day) == (date(2024, 12, 7), date(2025, 1, 7))
    assert period.deadline.isoformat() == "2025-01-07T23:00:00+00:00"  # 24:00 in Berlin


def test_second_round_uses_the_shorter_period() -> None:
    defn, st = state_for("baugb-3-2", round=2)
    period = rules.compute_period(defn, defn.phase("hearing"), st, date(2025, 3, 3), st.params)
    assert period is not None
    # P14D from Monday 3 March counting that day ends Sunday 16 March; §193: Monday 17th
    assert period.last_day == date(2025, 3, 17)


def test_draft_changed_loops_until_max_rounds() -> None:
    defn, st = state_for("baugb-3-2", conditions={"draft_changed": True})
    step = rules.choose_transition(defn, defn.phase("weighing"), st, date(2025, 1, 1))
    assert (step.to, step.round, step.limited_to) == ("hearing", 2, "affected")
    st.round = 5  # max_rounds: 5 - the loop must end
    step = rules.choose_transition(defn, defn.phase("weighing"), st, date(2025, 1, 1))
    assert (step.to, step.round) == ("decision", 5)


def test_fall_through_to_the_next_phase_and_the_end() -> None:
    defn, st = state_for("baugb-3-2")
    assert rules.choose_transition(defn, defn.phase("hearing"), st, date(2025, 1, 1)).to == (
        "weighing"
    )
    last = rules.choose_transition(defn, defn.phase("decision"), st, date(2025, 1, 1))
    assert rules.is_end(last)


def test_quorum_ends_a_phase() -> None:
    defn, st = state_for("beteiligungsantrag")
    phase = defn.phase("signatures")
    st.visit_counts = {"signatures": 999}
    assert rules.end_reason(phase, st, st.params) is None
    st.visit_counts = {"signatures": 1000}
    assert rules.end_reason(phase, st, st.params) == "quorum"


def test_reminders_before_the_deadline() -> None:
    defn, st = state_for("baugb-3-2")
    period = rules.compute_period(defn, defn.phase("hearing"), st, date(2024, 12, 7), st.params)
    assert period is not None
    [(days, at)] = rules.reminder_instants(defn.phase("hearing"), period.deadline)
    assert days == 7
    assert at.isoformat() == "2024-12-31T23:00:00+00:00"
