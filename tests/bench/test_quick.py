"""The benchmark harness in its smallest mode: it runs, writes its outputs, checks pass.

No timing is asserted (a shared machine makes figures noise); what must hold is that every
scenario ran on both sides and the correctness checks held: every statement stored exactly
once, every procedure started, every statement acknowledged through the client helper.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run import run_bench, write_outputs

pytestmark = pytest.mark.integration

SCENARIOS = {"start", "intake", "large_hearing", "idle", "deadlines", "storage"}


async def test_smoke_run_writes_results_and_checks_pass(database_url: str, tmp_path: Path) -> None:
    lines: list[str] = []
    result = await run_bench("smoke", database_url=database_url, log=lines.append)
    write_outputs(result, tmp_path)

    saved = json.loads((tmp_path / "latest.json").read_text())
    assert {"mode", "sizes", "machine", "scenarios", "checks", "seconds"} <= saved.keys()
    assert set(saved["scenarios"]) == SCENARIOS
    assert saved["checks"], "no correctness checks were collected"
    assert all(saved["checks"].values()), saved["checks"]
    assert {
        "start.all_started",
        "intake.stored_exactly_once",
        "intake.every_statement_acknowledged",
        "large_hearing.stored_exactly_once",
        "storage.stored_exactly_once",
        "deadlines.all_moved_on",
        "deadlines.one_deadline",
    } <= saved["checks"].keys()

    sc = saved["scenarios"]
    for group in (sc["start"], sc["large_hearing"], sc["idle"], sc["deadlines"]):
        for data in group.values():
            assert {"repetitions", "summary", "checks"} <= data.keys()
            assert {"median", "min", "max"} <= data["summary"]["civicflow"]["per_second"].keys()
            assert "per_second" in data["summary"]["bare"]
    hearing = next(iter(sc["large_hearing"].values()))["repetitions"][0]
    total = hearing["total"]
    assert hearing["civicflow"]["stored_rows"] == hearing["civicflow"]["stored_distinct"] == total
    assert hearing["civicflow"]["received_events"] == total
    assert hearing["bare"]["received"] == total
    intake = sc["intake"]["repetitions"][0]
    assert {"bare_single_c10", "bare_batched_c10", "civicflow_single_c10"} <= intake.keys()
    assert intake["civicflow_batched_c10"]["statements"] == intake["total"]
    assert {"raw_copy_jsonb", "store_statements"} <= sc["storage"]["repetitions"][0].keys()
    fired = next(iter(sc["deadlines"].values()))["repetitions"][0]
    assert fired["civicflow"]["moved_on"] == fired["bare"]["moved_on"] == fired["n"]
    assert fired["civicflow"]["latency_p99"] <= fired["civicflow"]["seconds"]

    report = (tmp_path / "report.md").read_text()
    assert "## Targets (issue 8)" in report
    assert "## 4. Deadlines firing together" in report
    for png in ("rates.png", "memory.png", "intake.png", "deadlines.png"):
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG")
    assert any("repetition 1/1" in line for line in lines)


async def test_only_runs_the_named_scenarios(database_url: str, tmp_path: Path) -> None:
    result = await run_bench(
        "smoke", database_url=database_url, log=lambda _: None, only=frozenset({"deadlines"})
    )
    assert set(result["scenarios"]) == {"deadlines"}
    assert result["checks"] == {"deadlines.all_moved_on": True, "deadlines.one_deadline": True}
    write_outputs(result, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "## 4. Deadlines firing together" in report
    assert "## 1. Start latency" not in report
    pngs = [name for name in ("rates.png", "memory.png", "intake.png", "deadlines.png")
            if (tmp_path / name).is_file()]  # fmt: skip
    assert pngs == ["deadlines.png"]


async def test_only_refuses_an_unknown_scenario(database_url: str) -> None:
    with pytest.raises(ValueError, match=r"only: unknown scenarios \['startup'\]"):
        await run_bench("smoke", database_url=database_url, only=frozenset({"startup"}))
