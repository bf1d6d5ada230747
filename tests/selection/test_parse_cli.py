"""Pool and quota files: clear errors naming the row; the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities.selection.parse import PoolError, QuotaError, parse_pool_csv, parse_quotas_yaml
from worker.cli import app

QUOTAS = """\
features:
  gender:
    f: {min: 2, max: 3, target: 0.5}
    m: {min: 2, max: 3, target: 0.5}
  age:
    16-29: {min: 1, max: 3, target: 0.3}
    30+: {min: 2, max: 4, target: 0.7}
"""
POOL = "id,gender,age,household\n" + "\n".join(
    f"r{i},{'f' if i % 2 else 'm'},{'16-29' if i % 3 == 0 else '30+'},h{i // 2}" for i in range(12)
)


def test_quotas_parse_with_text_categories() -> None:
    quotas = parse_quotas_yaml(QUOTAS)
    assert list(quotas.features["age"]) == ["16-29", "30+"]
    assert quotas.features["gender"]["f"].target == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("features: {g: {a: {min: 3, max: 1}}}", "features.g.a: Value error, min 3 is greater"),
        ("features: {g: {a: {min: -1, max: 1}}}", "features.g.a.min"),
        ("nothing: here", "expected a mapping with a 'features' key"),
        ("features: [", "not valid YAML"),
    ],
)
def test_bad_quotas_name_the_field(text: str, expected: str) -> None:
    with pytest.raises(QuotaError, match="quotas: ") as info:
        parse_quotas_yaml(text)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,gender\nr1,f\n", "line 1: missing column(s) 'age'"),
        ("id,gender,age\nr1,f,30+\nr2,x,30+\n", "line 3: column 'gender' has unknown category 'x'"),
        (
            "id,gender,age\nr1,f,30+\nr1,m,30+\n",
            "line 3: duplicate person id 'r1' (first seen on line 2)",
        ),
        ("id,gender,age\n,f,30+\n", "line 2: column 'id' is empty"),
        ("id,gender,age\nr1,f\n", "line 2: expected 3 cells"),
        ("", "empty file"),
    ],
)
def test_bad_pool_names_the_row(text: str, expected: str) -> None:
    with pytest.raises(PoolError) as info:
        parse_pool_csv(text, parse_quotas_yaml(QUOTAS), source="pool.csv")
    assert expected in str(info.value)


def test_households_column_required_when_asked() -> None:
    with pytest.raises(PoolError, match="missing column\\(s\\) 'household'"):
        parse_pool_csv("id,gender,age\nr1,f,30+\n", parse_quotas_yaml(QUOTAS), households=True)


def _files(tmp_path: Path, pool: str = POOL) -> tuple[Path, Path]:
    (tmp_path / "pool.csv").write_text(pool)
    (tmp_path / "quotas.yaml").write_text(QUOTAS)
    return tmp_path / "pool.csv", tmp_path / "quotas.yaml"


def test_cli_run_writes_panel_report_and_plots(tmp_path: Path) -> None:
    pool, quotas = _files(tmp_path)
    out = tmp_path / "out"
    args = ["selection", "run", str(pool), str(quotas), "--k", "5", "--seed", "4 8 15"]
    args += ["--out", str(out), "--households", "--legacy-runs", "50"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Quotas: pool, panel, target" in result.output
    written = json.loads((out / "panel.json").read_text())
    assert len(written["panel"]) == 5
    assert written["audit"]["seed"] == "4 8 15"
    assert (out / "panel.csv").read_text().count("\n") == 6
    for name in ("probabilities.png", "categories.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    assert (out / "distribution.json").exists()
    args[args.index(str(out))] = str(tmp_path / "again")
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "again" / "panel.json").read_text())["panel"] == written["panel"]


def test_cli_bad_csv_exits_1_naming_the_row(tmp_path: Path) -> None:
    pool, quotas = _files(tmp_path, POOL + "\nr3,f,30+,h9")
    args = ["selection", "run", str(pool), str(quotas), "--k", "5", "--seed", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "line 14: duplicate person id 'r3' (first seen on line 5)" in result.output


def test_cli_infeasible_exits_1_with_explanation(tmp_path: Path) -> None:
    pool, quotas = _files(tmp_path)
    args = ["selection", "run", str(pool), str(quotas), "--k", "9", "--seed", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "no panel satisfies the quotas" in result.output
