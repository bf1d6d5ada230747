"""README details that are not commands: admin update inputs, exit codes, table output."""

from __future__ import annotations

import io
import json
import re
import sys
from typing import Any

import pytest
from pydantic import BaseModel
from rich.console import Console

from tests.interfaces.docs import README
from worker.commands import procedure
from workflows import messages as m

ADMIN_MODELS: dict[str, type[BaseModel]] = {
    "admin_extend_deadline": m.AdminExtendDeadlineInput,
    "admin_advance": m.AdminAdvanceInput,
    "admin_pause": m.AdminPauseInput,
    "admin_cancel": m.AdminCancelInput,
}


def test_admin_update_inputs_in_the_readme_are_valid() -> None:
    rows = re.findall(r"^\| `(admin_[a-z_]+)`[^|]*\| `(\{.*?\})`", README.read_text("utf-8"), re.M)
    assert {name for name, _ in rows} == set(ADMIN_MODELS)
    for name, payload in rows:
        ADMIN_MODELS[name].model_validate(json.loads(payload))


def test_exit_codes_in_the_readme_match_the_command() -> None:
    text = " ".join(README.read_text("utf-8").split())
    assert f"`{procedure.EXIT_REFUSED}` refused" in text
    assert f"`{procedure.EXIT_CONFIG}` configuration problem" in text
    assert f"`{procedure.EXIT_NOT_FOUND}` no such procedure" in text
    assert f"`{procedure.EXIT_EXISTS}` a procedure with this workflow id is already" in text


def test_tables_on_a_terminal_json_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data: dict[str, Any] = {"phase_id": "hearing", "counts": {"statements": 2}, "limited_to": None}
    procedure._out(data, as_json=False, table=lambda: procedure._kv_table("status", data))
    assert json.loads(capsys.readouterr().out) == data  # captured: not a terminal
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    console = Console(record=True, width=80, file=io.StringIO())
    monkeypatch.setattr(procedure, "Console", lambda: console)
    procedure._out(data, as_json=False, table=lambda: procedure._kv_table("status", data))
    shown = console.export_text()
    assert "hearing" in shown
    assert '{"statements": 2}' in shown
    procedure._out(data, as_json=True, table=lambda: procedure._kv_table("status", data))
    assert json.loads(capsys.readouterr().out) == data
