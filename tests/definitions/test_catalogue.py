"""Every catalogue definition loads, validates semantically and hashes stably."""

from __future__ import annotations

import pytest

from definitions import loader, schema, validate

CATALOGUE = [d.definition.id for d in loader.list_definitions()]


def test_catalogue_is_not_empty() -> None:
    assert "baugb-3-2" in CATALOGUE


@pytest.mark.parametrize("definition_id", CATALOGUE)
def test_definition_loads_and_round_trips(definition_id: str) -> None:
    loaded = loader.load_definition(definition_id)
    assert validate.check(loaded.definition, loaded.source_map) == []
    dumped = loaded.definition.model_dump(mode="json")
    again = schema.Definition.model_validate(dumped)
    assert loader.content_hash(again) == loaded.content_hash
    assert len(loaded.content_hash) == 64


@pytest.mark.parametrize("definition_id", CATALOGUE)
def test_yaml_language_server_line(definition_id: str) -> None:
    source = loader.catalogue_root().joinpath(f"{definition_id}.yaml").read_text("utf-8")
    assert source.splitlines()[0] == "# yaml-language-server: $schema=../definition.schema.json"


def test_unknown_definition_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="no definition nope"):
        loader.load_definition("nope")
    with pytest.raises(LookupError, match=r"version 9\.9"):
        loader.load_definition("baugb-3-2", "9.9")


def phases_of(definition_id: str) -> dict[str, schema.Phase]:
    return {p.id: p for p in loader.load_definition(definition_id).definition.phases}


def test_baugb_3_2_repeats_rounds_for_the_affected_and_warns_of_preclusion() -> None:
    phases = phases_of("baugb-3-2")
    hearing = phases["hearing"]
    assert isinstance(hearing, schema.HearingPhase)
    assert hearing.settings.preclusion_warning  # §4a(6)
    assert hearing.period is not None
    assert hearing.period.counting == "from_day"  # §187(2): publication "from" a day
    loop = phases["weighing"].transitions[0]
    assert (loop.when, loop.to, loop.round, loop.limited_to) == (
        "draft_changed",
        "hearing",
        "next",
        "affected",
    )
    definition = loader.load_definition("baugb-3-2").definition
    bound = schema.bind_parameters(definition, {})
    assert schema.resolve_duration(hearing.period.duration, bound).min_days == 30
    assert validate.check_bound_parameters(definition, {**bound, "hearing_period": "P3W"})


def test_baugb_4_2_tracks_each_authority() -> None:
    statements = phases_of("baugb-4-2")["statements"]
    assert isinstance(statements, schema.HearingPhase)
    assert statements.settings.per_authority
    assert {e.kind for e in statements.ends_when} == {"deadline", "all_authorities_answered"}


def test_buergerrat_lottery_sessions_response_review() -> None:
    phases = phases_of("buergerrat")
    assert [p.type for p in phases.values()] == [
        "invitation",
        "deliberation",
        "commitment",
        "review",
    ]
    lottery = phases["lottery"]
    assert isinstance(lottery, schema.InvitationPhase)
    assert lottery.settings.selection == "stratified_lottery"
    assert lottery.accepts.registrations
    assert any(t.to == "sessions" for t in phases["review"].transitions)  # back to deliberation


def test_quartiersdialog_self_commitments_reviewed_yearly() -> None:
    phases = phases_of("quartiersdialog")
    commitments = phases["commitments"]
    assert isinstance(commitments, schema.CommitmentPhase)
    assert {"business", "civil_society", "administration", "council"} <= set(
        commitments.settings.actors
    )
    review = phases["yearly_review"]
    assert isinstance(review, schema.ReviewPhase)
    assert review.settings.interval == "P1Y"
    assert {t.when for t in review.transitions} >= {"overdue", "cycles_remaining"}


def test_buergerhaushalt_proposals_check_vote_decision_review() -> None:
    assert list(phases_of("buergerhaushalt")) == [
        "launch",
        "proposals",
        "check",
        "vote",
        "council_decision",
        "implementation_review",
    ]
    vote = phases_of("buergerhaushalt")["vote"]
    assert vote.accepts.votes is not None
    assert vote.accepts.votes.method == "points"


def test_beteiligungsantrag_needs_1000_signatures_and_a_council_decision() -> None:
    definition = loader.load_definition("beteiligungsantrag").definition
    bound = schema.bind_parameters(definition, {})
    signatures = definition.phase("signatures")
    quorum = next(e for e in signatures.ends_when if isinstance(e, schema.Quorum))
    assert schema.resolve_int(quorum.count, bound) == 1000
    assert signatures.transitions[0].when == "quorum_missed"
    assert signatures.transitions[0].to == schema.END
    council = definition.phase("council_decides")
    assert council.transitions[0].decision == "no_participation"
    order = [p.id for p in definition.phases]
    assert order.index("participation_plan") < order.index("participation")
