"""`civicflow schema messages --out DIR`: JSON Schemas of every message that crosses a boundary.

Generated from the pydantic models, never written by hand: the start input, every update and
signal payload, every receipt and query result (`workflows.messages`), and the CloudEvents
envelope of every outbound event (`activities.notify.events`). The files are committed under
`schemas/`; a test regenerates them and fails when they drift from the models.

Each file is JSON Schema draft 2020-12 with an `$id` (a URN that names the schema version) and
`x-civicflow-version`. Field names are the wire names; renaming one is a new major version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, TypeAdapter

from activities.notify import events
from workflows import messages as m
from workflows import outreach

__all__ = ["INDEX_FILE", "SCHEMA_VERSION", "message_schemas", "schema_app", "write_schemas"]

SCHEMA_VERSION = "1.1.0"
"""Bump the major part when a field is renamed or removed, the minor part when one is added."""

_MAJOR = SCHEMA_VERSION.split(".", 1)[0]
DRAFT = "https://json-schema.org/draft/2020-12/schema"
INDEX_FILE = "index.json"

# name of the schema file (without .schema.json) -> (model or type, validation|serialization)
_MESSAGES: dict[str, tuple[Any, str]] = {
    "StartProcedure": (m.StartProcedure, "validation"),
    "StatementInput": (m.StatementInput, "validation"),
    "SubmitStatementsInput": (m.SubmitStatementsInput, "validation"),
    "RegisterInput": (m.RegisterInput, "validation"),
    "CastVoteInput": (m.CastVoteInput, "validation"),
    "RecordDecisionInput": (m.RecordDecisionInput, "validation"),
    "AddCommitmentInput": (m.AddCommitmentInput, "validation"),
    "ReportProgressInput": (m.ReportProgressInput, "validation"),
    "AdminExtendDeadlineInput": (m.AdminExtendDeadlineInput, "validation"),
    "AdminAdvanceInput": (m.AdminAdvanceInput, "validation"),
    "AdminPauseInput": (m.AdminPauseInput, "validation"),
    "AdminResumeInput": (m.AdminResumeInput, "validation"),
    "AdminCancelInput": (m.AdminCancelInput, "validation"),
    "DeclareProfileInput": (outreach.DeclareProfileInput, "validation"),
    "DrawPanelInput": (outreach.DrawPanelInput, "validation"),
    "Receipt": (m.Receipt, "serialization"),
    "StatementReceipt": (m.StatementReceipt, "serialization"),
    "StatementsReceipt": (m.StatementsReceipt, "serialization"),
    "ProcedureStatus": (m.ProcedureStatus, "serialization"),
    "StatementPage": (m.StatementPage, "serialization"),
    "CommitmentList": (list[m.CommitmentView], "serialization"),
    "Timeline": (list[m.TimelineEntry], "serialization"),
    "ProcedureResult": (m.ProcedureResult, "serialization"),
    "OutreachView": (outreach.OutreachView, "serialization"),
    "CloudEvent": (events.CloudEvent, "serialization"),
}

# How the workflow's interface maps onto the schema files (written to index.json).
_INTERFACE: dict[str, Any] = {
    "workflow_type": "Procedure",
    "start": {"input": "StartProcedure", "result": "ProcedureResult"},
    "updates": {
        "submit_statement": {"input": "StatementInput", "result": "StatementReceipt"},
        "submit_statements": {"input": "SubmitStatementsInput", "result": "StatementsReceipt"},
        "register": {"input": "RegisterInput", "result": "Receipt"},
        "cast_vote": {"input": "CastVoteInput", "result": "Receipt"},
        "record_decision": {"input": "RecordDecisionInput", "result": "Receipt"},
        "add_commitment": {"input": "AddCommitmentInput", "result": "Receipt"},
        "report_progress": {"input": "ReportProgressInput", "result": "Receipt"},
        "admin_extend_deadline": {"input": "AdminExtendDeadlineInput", "result": "Receipt"},
        "admin_advance": {"input": "AdminAdvanceInput", "result": "Receipt"},
        "admin_pause": {"input": "AdminPauseInput", "result": "Receipt"},
        "admin_resume": {"input": "AdminResumeInput", "result": "Receipt"},
        "admin_cancel": {"input": "AdminCancelInput", "result": "Receipt"},
        # only while an invitation phase with `outreach` in its definition runs:
        outreach.DECLARE_PROFILE: {"input": "DeclareProfileInput", "result": "Receipt"},
        outreach.DRAW_PANEL: {"input": "DrawPanelInput", "result": "Receipt"},
    },
    "signals": {"post_statement": {"input": "StatementInput"}},
    "queries": {
        "status": {"args": [], "result": "ProcedureStatus"},
        "statements": {"args": ["after: int = 0", "limit: int = 100"], "result": "StatementPage"},
        "commitments": {"args": [], "result": "CommitmentList"},
        "timeline": {"args": [], "result": "Timeline"},
        outreach.OUTREACH_QUERY: {"args": [], "result": "OutreachView"},
    },
    "events": {"envelope": "CloudEvent", "types": sorted(events.EVENT_TYPES)},
}


def schema_id(name: str) -> str:
    return f"urn:civicflow:schema:v{_MAJOR}:{name}"


def _schema(name: str, target: Any, mode: str) -> dict[str, Any]:
    if isinstance(target, type) and issubclass(target, BaseModel):
        body = target.model_json_schema(mode=mode)  # type: ignore[arg-type]
    else:
        body = TypeAdapter(target).json_schema(mode=mode)  # type: ignore[arg-type]
    if name == "CloudEvent":
        # the catalogue is closed: name the types so receivers can validate them
        body["properties"]["type"]["enum"] = sorted(events.EVENT_TYPES)
    head = {"$schema": DRAFT, "$id": schema_id(name), "x-civicflow-version": SCHEMA_VERSION}
    body.setdefault("title", name)
    return {**head, **body}


def message_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema document, for every message and the interface index."""
    out = {f"{name}.schema.json": _schema(name, *spec) for name, spec in _MESSAGES.items()}
    out[INDEX_FILE] = {
        "$id": schema_id("index"),
        "x-civicflow-version": SCHEMA_VERSION,
        **_INTERFACE,
    }
    return out


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, UTF-8 (umlauts kept), final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(out: Path) -> list[Path]:
    """Write every schema into `out` (created if missing); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in message_schemas().items():
        path = out / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


_OUT = typer.Option(Path("schemas/v1"), "--out", help="directory to write into")

schema_app = typer.Typer(
    name="schema", help="JSON Schemas of civicflow's messages.", no_args_is_help=True
)


@schema_app.callback()
def _group() -> None:
    """JSON Schemas of civicflow's messages."""


@schema_app.command("messages")
def messages_command(
    out: Path = _OUT,
    check: bool = typer.Option(
        False, "--check", help="write nothing; exit 1 if the files in --out differ"
    ),
) -> None:
    """Write (or with --check, compare) the JSON Schema of every message."""
    if check:
        stale = [
            name
            for name, document in message_schemas().items()
            if not (out / name).is_file() or (out / name).read_text("utf-8") != render(document)
        ]
        if stale:
            typer.echo(f"civicflow schema messages: out of date in {out}: {', '.join(stale)}")
            raise typer.Exit(1)
        typer.echo(f"schemas in {out} are up to date")
        return
    written = write_schemas(out)
    typer.echo(f"wrote {len(written)} files to {out}")
