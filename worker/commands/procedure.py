"""`civicflow procedure`: start, find, read and steer procedures from a terminal or a script.

Everything here goes through Temporal (never the database): the same `Procedure` workflow,
updates and queries that the Web UI, the `temporal` CLI and the HTTP API use. Output is a rich
table on a terminal and JSON otherwise (or always, with `--json`), so scripts can parse it.

Exit status (also in the README):
  0  done
  1  refused: bad input (file, JSON, fields) or a rejected update (the message says why)
  2  configuration problem or Temporal unreachable
  3  no such procedure
  4  a procedure with this workflow id is already running
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from worker.client import TemporalUnavailableError, connect
from worker.config import ConfigError, Settings, load_settings
from workflows import messages as m
from workflows import visibility

__all__ = [
    "EXIT_CONFIG",
    "EXIT_EXISTS",
    "EXIT_NOT_FOUND",
    "EXIT_REFUSED",
    "procedure_app",
]

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_NOT_FOUND = 3
EXIT_EXISTS = 4

T = TypeVar("T")

procedure_app = typer.Typer(
    name="procedure", help="Start, list, read and steer procedures.", no_args_is_help=True
)

_ADDRESS = typer.Option(None, "--address", help="Temporal host:port (CIVICFLOW_TEMPORAL_ADDRESS)")
_NAMESPACE = typer.Option(None, "--namespace", help="(CIVICFLOW_TEMPORAL_NAMESPACE)")
_QUEUE = typer.Option(None, "--task-queue", help="(CIVICFLOW_TASK_QUEUE)")
_JSON = typer.Option(False, "--json", help="JSON output even on a terminal")
_ROLE = typer.Option("administration", "--role", help="the acting role of the definition")
_KEY = typer.Option(None, "--key", help="idempotency key (default: a fresh uuid)")
_FILE = typer.Argument(None, help="a StartProcedure JSON file")
_PARAM = typer.Option([], "--param", help="NAME=VALUE, repeatable")
_STATEMENT = typer.Option(..., "--statement", help="a StatementInput JSON file")


class _Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _die(command: str, code: int, message: str) -> NoReturn:
    typer.echo(f"civicflow procedure {command}: {message}", err=True)
    raise typer.Exit(code)


def _settings(address: str | None, namespace: str | None, queue: str | None) -> Settings:
    return load_settings(
        temporal_address=address, temporal_namespace=namespace, task_queue=queue, metrics_port=0
    )


def _run(
    command: str,
    settings: Callable[[], Settings],
    work: Callable[[Client, Settings], Awaitable[T]],
) -> T:
    """Connect, run `work`, map every known failure to one line on stderr and an exit code."""

    async def go() -> T:
        conf = settings()
        client = await connect(conf)
        return await work(client, conf)

    try:
        return asyncio.run(go())
    except ConfigError as err:
        _die(command, EXIT_CONFIG, str(err))
    except TemporalUnavailableError as err:
        _die(command, EXIT_CONFIG, str(err))
    except _Fail as err:
        _die(command, err.code, str(err))
    except WorkflowAlreadyStartedError as err:
        _die(command, EXIT_EXISTS, f"procedure {err.workflow_id} is already running")
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        text = cause.message if isinstance(cause, ApplicationError) else str(cause)
        _die(command, EXIT_REFUSED, f"rejected: {text}")
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            _die(command, EXIT_NOT_FOUND, err.message)
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            _die(command, EXIT_REFUSED, err.message)
        _die(command, EXIT_CONFIG, f"Temporal answered {err.status.name}: {err.message}")


def _out(data: Any, *, as_json: bool, table: Callable[[], Table] | None = None) -> None:
    """JSON when asked or when stdout is not a terminal; a rich table otherwise."""
    if as_json or table is None or not sys.stdout.isatty():
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    Console().print(table())


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _kv_table(title: str, data: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        table.add_row(key, "-" if value is None else str(shown))
    return table


def _read_json(command: str, path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        _die(command, EXIT_REFUSED, f"{path}: {err.strerror}")
    except json.JSONDecodeError as err:
        _die(command, EXIT_REFUSED, f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}")


def _model(command: str, model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        _die(command, EXIT_REFUSED, f"{where}: {m.first_error(err)}")


# ---------------------------------------------------------------------------- start


def _parse_params(command: str, given: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name:
            _die(command, EXIT_REFUSED, f"--param {item!r}: expected NAME=VALUE")
        try:
            params[name] = json.loads(value)  # numbers and booleans as such
        except json.JSONDecodeError:
            params[name] = value
    return params


@procedure_app.command("start")
def start(
    file: Path | None = _FILE,
    definition: str | None = typer.Option(None, "--definition", help="definition id"),
    reference: str | None = typer.Option(None, help="the municipality's file reference"),
    title: str | None = typer.Option(None),
    municipality: str | None = typer.Option(None, help="AGS, 8 digits"),
    land: str | None = typer.Option(None, help="Land, e.g. BW"),
    param: list[str] = _PARAM,
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """Start a procedure from a JSON file, or from --definition and the other options."""
    if (file is None) == (definition is None):
        _die("start", EXIT_REFUSED, "give either FILE or --definition, not both or neither")
    data: dict[str, Any] = {}
    if file is not None:
        raw = _read_json("start", file)
        if not isinstance(raw, dict):
            _die("start", EXIT_REFUSED, f"{file}: expected a JSON object")
        data = raw
    given = {
        "definition_id": definition,
        "reference": reference,
        "title": title,
        "municipality": municipality,
        "land": land,
    }
    data.update({k: v for k, v in given.items() if v is not None})
    if param:
        data["parameters"] = {**data.get("parameters", {}), **_parse_params("start", param)}
    request: m.StartProcedure = _model("start", m.StartProcedure, data, "StartProcedure")
    workflow_id = m.procedure_workflow_id(request.municipality, request.reference)

    async def work(client: Client, conf: Settings) -> dict[str, Any]:
        handle = await client.start_workflow(
            "Procedure",
            request.model_dump(mode="json", exclude_unset=True),
            id=workflow_id,
            task_queue=conf.task_queue,
            static_summary=request.title,
            static_details=f"`{request.definition_id}`, {request.municipality}",
        )
        return {"workflow_id": handle.id, "run_id": handle.result_run_id}

    started = _run("start", lambda: _settings(address, namespace, task_queue), work)
    _out(started, as_json=as_json, table=lambda: _kv_table("started", started))


# ---------------------------------------------------------------------------- list


@procedure_app.command("list")
def list_command(
    kind: str | None = typer.Option(None, help="ProcedureKind (the definition's kind)"),
    municipality: str | None = typer.Option(None, help="AGS"),
    phase: str | None = typer.Option(None, help="phase id"),
    state: str | None = typer.Option(None, help="running, paused, completed, cancelled"),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """List procedures, newest first, filtered by search attributes."""
    clauses = ['WorkflowType = "Procedure"']
    for name, value in (
        ("ProcedureKind", kind),
        ("Municipality", municipality),
        ("Phase", phase),
        ("ProcedureState", state),
    ):
        if value is not None:
            clauses.append(f"{name} = {json.dumps(value)}")
    query = " AND ".join(clauses)

    async def work(client: Client, _: Settings) -> list[dict[str, Any]]:
        rows = []
        async for wf in client.list_workflows(query, limit=limit):
            attrs = wf.typed_search_attributes
            deadline = attrs.get(visibility.NEXT_DEADLINE)
            rows.append(
                {
                    "workflow_id": wf.id,
                    "status": wf.status.name if wf.status else None,
                    "kind": attrs.get(visibility.PROCEDURE_KIND),
                    "municipality": attrs.get(visibility.MUNICIPALITY),
                    "phase": attrs.get(visibility.PHASE),
                    "state": attrs.get(visibility.PROCEDURE_STATE),
                    "next_deadline": deadline.isoformat() if deadline else None,
                    "started": wf.start_time.isoformat(),
                }
            )
        return rows

    rows = _run("list", lambda: _settings(address, namespace, task_queue), work)

    def table() -> Table:
        out = Table(title=f"procedures ({len(rows)})")
        columns = ("workflow_id", "kind", "municipality", "phase", "state", "next_deadline")
        for column in columns:
            out.add_column(column)
        for row in rows:
            out.add_row(*(str(row[c] or "-") for c in columns))
        return out

    _out(rows, as_json=as_json, table=table)


# ---------------------------------------------------------------------------- read


async def _query(client: Client, workflow_id: str, name: str, result_type: type[T]) -> T:
    handle = client.get_workflow_handle(workflow_id)
    result: T = await handle.query(name, result_type=result_type)
    return result


@procedure_app.command("status")
def status(
    workflow_id: str = typer.Argument(..., help="procedure (workflow) id"),
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """The `status` query: phase, round, deadlines, counts, open commitments."""
    result = _run(
        "status",
        lambda: _settings(address, namespace, task_queue),
        lambda client, _: _query(client, workflow_id, "status", m.ProcedureStatus),
    )
    data = _dump(result)
    _out(data, as_json=as_json, table=lambda: _kv_table(workflow_id, data))


@procedure_app.command("timeline")
def timeline(
    workflow_id: str = typer.Argument(..., help="procedure (workflow) id"),
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """The `timeline` query: what happened, oldest first."""
    entries = _run(
        "timeline",
        lambda: _settings(address, namespace, task_queue),
        lambda client, _: _query(client, workflow_id, "timeline", list[m.TimelineEntry]),
    )
    rows = [_dump(e) for e in entries]

    def table() -> Table:
        out = Table(title=workflow_id)
        columns = ("at", "type", "phase_id", "round", "summary")
        for column in columns:
            out.add_column(column)
        for row in rows:
            out.add_row(*("-" if row[c] is None else str(row[c]) for c in columns))
        return out

    _out(rows, as_json=as_json, table=table)


# ---------------------------------------------------------------------------- updates


def _update(
    command: str,
    workflow_id: str,
    update: str,
    payload: BaseModel,
    result_type: type[BaseModel],
    settings: Callable[[], Settings],
    as_json: bool,
) -> None:
    async def work(client: Client, _: Settings) -> BaseModel:
        handle = client.get_workflow_handle(workflow_id)
        receipt: BaseModel = await handle.execute_update(update, payload, result_type=result_type)
        return receipt

    receipt = _run(command, settings, work)
    data = _dump(receipt)
    _out(data, as_json=as_json, table=lambda: _kv_table(f"{update}: accepted", data))


@procedure_app.command("submit")
def submit(
    workflow_id: str = typer.Argument(..., help="procedure (workflow) id"),
    statement: Path = _STATEMENT,
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """Submit one statement (the `submit_statement` update); prints its receipt."""
    item = _model("submit", m.StatementInput, _read_json("submit", statement), "StatementInput")
    _update(
        "submit",
        workflow_id,
        "submit_statement",
        item,
        m.StatementReceipt,
        lambda: _settings(address, namespace, task_queue),
        as_json,
    )


def _admin(
    command: str,
    model: type[BaseModel],
    workflow_id: str,
    fields: dict[str, Any],
    conn: tuple[str | None, str | None, str | None],
    as_json: bool,
) -> None:
    fields = {k: v for k, v in fields.items() if v is not None}
    fields["idempotency_key"] = fields.get("idempotency_key") or str(uuid.uuid4())
    payload = _model(command, model, fields, model.__name__)
    _update(
        command,
        workflow_id,
        f"admin_{command}" if command != "extend" else "admin_extend_deadline",
        payload,
        m.Receipt,
        lambda: _settings(*conn),
        as_json,
    )


@procedure_app.command("advance")
def advance(
    workflow_id: str = typer.Argument(...),
    reason: str = typer.Option(..., help="why (kept in the audit trail)"),
    outcome: str | None = typer.Option(None, help="a transition condition, if any"),
    role: str = _ROLE,
    key: str | None = _KEY,
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """End the current phase now (`admin_advance`)."""
    fields = {"role": role, "reason": reason, "outcome": outcome, "idempotency_key": key}
    conn = (address, namespace, task_queue)
    _admin("advance", m.AdminAdvanceInput, workflow_id, fields, conn, as_json)


@procedure_app.command("extend")
def extend(
    workflow_id: str = typer.Argument(...),
    new_end: str = typer.Option(..., "--new-end", help="the new last day, YYYY-MM-DD"),
    reason: str = typer.Option(...),
    role: str = _ROLE,
    key: str | None = _KEY,
    as_json: bool = _JSON,
    address: str | None = _ADDRESS,
    namespace: str | None = _NAMESPACE,
    task_queue: str | None = _QUEUE,
) -> None:
    """Move the current phase's deadline (`admin_extend_deadline`)."""
    try:
        end = date.fromisoformat(new_end)
    except ValueError:
        _die("extend", EXIT_REFUSED, f"--new-end {new_end!r}: expected YYYY-MM-DD")
    fields = {"role": role, "reason": reason, "new_end": end, "idempotency_key": key}
    conn = (address, namespace, task_queue)
    _admin("extend", m.AdminExtendDeadlineInput, workflow_id, fields, conn, as_json)


def _simple_admin(command: str, model: type[BaseModel], doc: str) -> None:
    def run(
        workflow_id: str = typer.Argument(...),
        reason: str = typer.Option(..., help="why (kept in the audit trail)"),
        role: str = _ROLE,
        key: str | None = _KEY,
        as_json: bool = _JSON,
        address: str | None = _ADDRESS,
        namespace: str | None = _NAMESPACE,
        task_queue: str | None = _QUEUE,
    ) -> None:
        fields = {"role": role, "reason": reason, "idempotency_key": key}
        _admin(command, model, workflow_id, fields, (address, namespace, task_queue), as_json)

    run.__doc__ = doc
    procedure_app.command(command)(run)


_simple_admin("pause", m.AdminPauseInput, "Pause the procedure (`admin_pause`).")
_simple_admin("resume", m.AdminResumeInput, "Resume a paused procedure (`admin_resume`).")
_simple_admin("cancel", m.AdminCancelInput, "Cancel the procedure for good (`admin_cancel`).")
