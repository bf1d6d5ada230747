"""`civicflow selection run`: draw a fair panel from a pool CSV and a quota file.

`civicflow selection purge-addresses PROCEDURE_ID` (or `--all --older-than DAYS`, nightly)
deletes the outreach waves' address lists, see `activities.selection.retention`.

Prints the report (rich tables) and writes into --out: the panel (CSV and JSON with the
audit summary), everybody's probability, the published distribution (with which anyone can
recompute the draw from the seed, see `activities.selection.draw`) and two PNG plots.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from activities.selection.model import Method, Person

if TYPE_CHECKING:
    from datetime import timedelta

    from activities.selection.report import SelectionOutcome
    from activities.selection.retention import PurgeResult
    from activities.selection.settings import SelectionSettings

__all__ = ["app", "purge_addresses_command", "run"]

app = typer.Typer(
    help="Fair panel selection (Bürgerrat lottery): LEXIMIN, MAXIMIN or the legacy method.",
    no_args_is_help=True,
)


_DEFAULT_OUT = Path("selection")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"civicflow selection: {message}", err=True)
    return typer.Exit(1)


@app.command("run")
def run(
    pool: Annotated[Path, typer.Argument(help="CSV: id, a column per feature, household")],
    quotas: Annotated[Path, typer.Argument(help="YAML: features -> category -> min/max/target")],
    k: Annotated[int, typer.Option("--k", min=1, help="panel size")],
    seed: Annotated[str, typer.Option("--seed", help="seed text announced before the draw")],
    method: Annotated[Method, typer.Option("--method", help="selection method")] = Method.LEXIMIN,
    households: Annotated[
        bool, typer.Option("--households", help="at most one person per household")
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="directory for the results")] = _DEFAULT_OUT,
    legacy_runs: Annotated[
        int,
        typer.Option("--legacy-runs", min=0, help="greedy runs to estimate legacy odds (0: no)"),
    ] = 300,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=1e-9, max=0.5, help="relative optimality gap"),
    ] = 1e-3,
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", min=1.0, help="seconds after which LEXIMIN stops refining"),
    ] = 600.0,
) -> None:
    """Select a panel of K from POOL under QUOTAS; same inputs and seed give the same panel."""
    # scipy and matplotlib load here, not when any other civicflow command starts
    from activities.selection.feasibility import InfeasibleQuotasError
    from activities.selection.legacy import LegacyStuckError
    from activities.selection.parse import (
        PoolError,
        QuotaError,
        parse_pool_csv,
        parse_quotas_yaml,
    )
    from activities.selection.select import select_panel

    try:
        quota_model = parse_quotas_yaml(quotas.read_text(encoding="utf-8"), source=str(quotas))
        people = parse_pool_csv(
            pool.read_text(encoding="utf-8-sig"),
            quota_model,
            source=str(pool),
            households=households,
        )
        outcome = select_panel(
            people,
            quota_model,
            k,
            seed,
            method=method,
            households=households,
            legacy_runs=legacy_runs,
            tolerance=tolerance,
            time_limit=time_limit,
        )
    except (PoolError, QuotaError, InfeasibleQuotasError, LegacyStuckError) as err:
        raise _fail(str(err)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise _fail(f"cannot read input: {err}") from None
    except ValueError as err:  # e.g. k larger than allowed by the model
        raise _fail(str(err)) from None
    console = Console()
    _print_report(console, outcome)
    try:
        _write_results(out, outcome, people)
    except OSError as err:
        raise _fail(f"cannot write results to {out}: {err}") from None
    console.print(f"panel and report written to {out}/")


def _print_report(console: Console, outcome: SelectionOutcome) -> None:
    report = outcome.report
    summary = Table(title="Selection", show_header=False)
    summary.add_row("method", report.method.value)
    summary.add_row("pool / k", f"{report.pool_size} / {report.k}")
    summary.add_row("seed (sha256)", f"{report.seed!r} ({report.seed_digest[:16]}…)")
    summary.add_row("distribution hash", report.distribution_hash or "(legacy: none)")
    summary.add_row("panels in distribution", str(report.panels_in_support))
    stats = report.probabilities
    summary.add_row(
        "probability min / max / Gini",
        f"{stats.minimum:.4f} / {stats.maximum:.4f} / {stats.gini:.3f}",
    )
    if report.legacy is not None and report.method is not Method.LEGACY:
        summary.add_row(
            f"legacy ({report.legacy_runs} runs) min / max / Gini",
            f"{report.legacy.minimum:.4f} / {report.legacy.maximum:.4f} / {report.legacy.gini:.3f}",
        )
    summary.add_row("never selectable", str(stats.never_selectable))
    summary.add_row("time", f"{report.seconds:.1f} s (gap tolerance {report.tolerance:g})")
    if not report.complete:
        summary.add_row("LEXIMIN", f"stopped at the time limit after {report.rounds} levels")
    console.print(summary)
    table = Table(title="Quotas: pool, panel, target")
    for column in ("feature", "category", "min–max", "pool", "panel", "expected", "target", "ok"):
        table.add_column(column, justify="left" if column in ("feature", "category") else "right")
    for row in report.quotas:
        table.add_row(
            row.feature,
            row.category,
            f"{row.min}–{row.max}",
            f"{row.pool} ({row.pool_share:.0%})",
            f"{row.panel} ({row.panel_share:.0%})",
            f"{row.expected:.1f}",
            f"{row.target:.0%}" if row.target is not None else "–",
            "yes" if row.fulfilled else "NO",
        )
    console.print(table)


def _write_results(out: Path, outcome: SelectionOutcome, people: list[Person]) -> None:
    from activities.selection.plots import render_plots

    out.mkdir(parents=True, exist_ok=True)
    chosen = set(outcome.panel)
    features = list(people[0].features)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", *features, "probability"])
    for person in sorted(people, key=lambda p: p.id):
        if person.id in chosen:
            row = [person.features[f] for f in features]
            writer.writerow([person.id, *row, f"{outcome.probabilities[person.id]:.6f}"])
    (out / "panel.csv").write_text(buffer.getvalue(), encoding="utf-8")
    panel = {
        "panel": outcome.panel,
        "audit": outcome.audit.model_dump(mode="json"),
        "report": outcome.report.model_dump(mode="json"),
    }
    (out / "panel.json").write_text(json.dumps(panel, indent=2, ensure_ascii=False) + "\n")
    probabilities = io.StringIO()
    writer = csv.writer(probabilities, lineterminator="\n")
    writer.writerow(["id", "probability"])
    writer.writerows([pid, f"{p:.6f}"] for pid, p in outcome.probabilities.items())
    (out / "probabilities.csv").write_text(probabilities.getvalue(), encoding="utf-8")
    if outcome.distribution is not None:
        (out / "distribution.json").write_text(
            json.dumps(outcome.distribution, sort_keys=True, separators=(",", ":")) + "\n"
        )
    for name, png in render_plots(outcome).items():
        (out / name).write_bytes(png)


@app.command("purge-addresses")
def purge_addresses_command(
    procedure_id: Annotated[
        str | None, typer.Argument(help="procedure whose wave address lists to delete")
    ] = None,
    all_procedures: Annotated[
        bool, typer.Option("--all", help="every procedure (needs --older-than)")
    ] = False,
    older_than: Annotated[
        int | None,
        typer.Option("--older-than", min=0, help="only lists written more than DAYS days ago"),
    ] = None,
    documents_dir: Annotated[
        Path | None,
        typer.Option(help="documents folder (CIVICFLOW_SELECTION_DOCUMENTS_DIR)"),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)")
    ] = None,
    database_schema: Annotated[
        str | None, typer.Option(help="schema (CIVICFLOW_DATABASE_SCHEMA)")
    ] = None,
) -> None:
    """Delete outreach wave address lists (personal data); each deletion is an audit event.

    Exit status: 0 done (also when nothing was left), 1 bad arguments or a path outside the
    documents folder (nothing deleted), 2 configuration or database problem.
    """
    from datetime import timedelta

    from activities.selection.retention import OutsideDocumentsError
    from activities.selection.settings import FileNameError, SelectionSettings
    from activities.storage.pool import DatabaseUnavailableError
    from worker.config import ConfigError, load_settings

    if all_procedures == (procedure_id is not None):
        raise _fail("purge-addresses: give either PROCEDURE_ID or --all")
    if all_procedures and older_than is None:
        raise _fail("purge-addresses --all: --older-than DAYS is required (the retention period)")
    retention = timedelta(days=older_than) if older_than is not None else None
    try:
        selection = (
            SelectionSettings(documents_dir=documents_dir)
            if documents_dir is not None
            else SelectionSettings()
        )
        settings = load_settings(database_url=database_url, database_schema=database_schema)
        results = asyncio.run(
            _purge(
                settings.database_url,
                settings.database_schema,
                selection,
                procedure_id,
                retention,
            )
        )
    except (OutsideDocumentsError, FileNameError) as err:
        raise _fail(str(err)) from None
    except OSError as err:
        raise _fail(f"cannot delete: {err}; nothing recorded") from None
    except (ConfigError, DatabaseUnavailableError) as err:
        typer.echo(f"civicflow selection: {err}", err=True)
        raise typer.Exit(2) from None
    for result in results:
        for item in result.purged:
            typer.echo(
                f"{result.procedure_id}: deleted {item.file} ({item.size} bytes, "
                f"sha256 {item.sha256[:16]}…), recorded as outreach.addresses_purged"
            )
        if result.kept:
            typer.echo(
                f"{result.procedure_id}: kept {len(result.kept)} list(s) younger than "
                f"{older_than} days: {', '.join(result.kept)}"
            )
    if not any(result.purged for result in results):
        typer.echo("no address lists to delete")


async def _purge(
    database_url: str,
    schema: str,
    selection: SelectionSettings,
    procedure_id: str | None,
    retention: timedelta | None,
) -> list[PurgeResult]:
    from activities.selection.retention import purge_addresses, purge_all
    from activities.storage.pool import create_pool

    pool = await create_pool(
        database_url, schema=schema, min_size=1, max_size=1, create_schema=False
    )
    try:
        if procedure_id is None:
            assert retention is not None  # checked by the command
            return await purge_all(pool, selection, older_than=retention)
        return [await purge_addresses(pool, selection, procedure_id, older_than=retention)]
    finally:
        await pool.close()
