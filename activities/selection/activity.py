"""The selection activities the engine calls; thin wrappers around the pure modules.

- `select_panel` runs a selection on people in its payload (the CLI's path, small pools).
- `draw_procedure_panel` is a procedure's lottery: it reads the pool CSV from the data
  folder, checks (when given the database pool) that its ids are the procedure's registered
  participants (`registrants`), selects, writes the report, plots and published
  distribution into the procedure's documents folder and returns ids, hashes and file
  digests; the invitation phase logs them as a `panel.selected` event through the storage
  activities' `append_events` (one hash chain), so the chain vouches for the documents.
- `draw_outreach_wave` draws a targeted second wave of addresses from a register extract
  and writes the list for the print shop; the workflow logs only counts and digests.
- `compare_registrations` gives the under-represented groups for outreach.

Inputs with personal data (pools, extracts) are files named by the caller, never payloads.
CPU-bound work runs off the event loop; numpy/SciPy load on the first selection.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.selection.model import Method, Person, Quotas
from activities.selection.outreach import GroupGap, WaveGroup, under_represented
from activities.selection.report import ProbabilityStats, SelectionAudit, SelectionOutcome
from activities.selection.settings import SelectionSettings

if TYPE_CHECKING:
    import asyncpg

__all__ = [
    "COMPARE_REGISTRATIONS",
    "DRAW_OUTREACH_WAVE",
    "DRAW_PROCEDURE_PANEL",
    "PURGE_OUTREACH_ADDRESSES",
    "SELECT_PANEL",
    "CompareRegistrationsInput",
    "CompareRegistrationsResult",
    "DrawOutreachWaveInput",
    "DrawProcedurePanelInput",
    "OutreachWaveResult",
    "ProcedurePanelResult",
    "PurgeAddressesInput",
    "PurgeAddressesResult",
    "SelectPanelInput",
    "SelectionActivities",
]

SELECT_PANEL = "select_panel"
COMPARE_REGISTRATIONS = "compare_registrations"
DRAW_PROCEDURE_PANEL = "draw_procedure_panel"
DRAW_OUTREACH_WAVE = "draw_outreach_wave"
PURGE_OUTREACH_ADDRESSES = "purge_outreach_addresses"


class SelectPanelInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    people: list[Person] = Field(min_length=1)
    quotas: Quotas
    k: int = Field(ge=1)
    seed: str = Field(min_length=1)
    method: Method = Method.LEXIMIN
    households: bool = False
    legacy_runs: int = Field(default=0, ge=0)
    time_limit: float | None = Field(default=None, gt=0)


class CompareRegistrationsInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    registrations: list[dict[str, str]]
    targets: dict[str, dict[str, float]]
    ratio: float = Field(default=0.8, gt=0.0, le=1.0)


class CompareRegistrationsResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gaps: list[GroupGap]


class DrawProcedurePanelInput(BaseModel):
    """A procedure's panel lottery: the pool is a file in the data folder, never a payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    procedure_id: str = Field(min_length=1)
    selection_id: str = Field(min_length=1)
    pool: str = Field(min_length=1)  # CSV file name in SelectionSettings.data_dir
    targets: dict[str, dict[str, float]] = Field(min_length=1)
    k: int = Field(ge=1)
    slack: float = Field(default=0.1, ge=0.0, le=1.0)
    seed: str = Field(min_length=1)
    method: Method = Method.LEXIMIN
    households: bool = False
    legacy_runs: int = Field(default=100, ge=0)
    time_limit: float | None = Field(default=300.0, gt=0)


class ProcedurePanelResult(BaseModel):
    """What the workflow keeps and logs of a draw: ids, hashes, figures; no personal data."""

    model_config = ConfigDict(frozen=True)

    selection_id: str
    panel: list[str]  # participant ids, sorted
    audit: SelectionAudit
    probabilities: ProbabilityStats
    legacy: ProbabilityStats | None
    complete: bool
    quotas_met: bool
    folder: str  # relative to the documents folder
    documents: dict[str, str]  # file name -> sha256

    def event_payload(self) -> dict[str, Any]:
        """Payload of the `panel.selected` audit event."""
        return {
            "selection_id": self.selection_id,
            **self.audit.model_dump(mode="json"),
            "panel": self.panel,
            "probability": {
                "min": self.probabilities.minimum,
                "max": self.probabilities.maximum,
                "gini": self.probabilities.gini,
            },
            "legacy_min": self.legacy.minimum if self.legacy is not None else None,
            "complete": self.complete,
            "quotas_met": self.quotas_met,
            "folder": self.folder,
            "documents": self.documents,
        }


class DrawOutreachWaveInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    procedure_id: str = Field(min_length=1)
    wave_id: str = Field(min_length=1)
    extract: str = Field(min_length=1)  # CSV file name in SelectionSettings.data_dir
    letters: int = Field(ge=1)
    gaps: list[GroupGap] = Field(min_length=1)


class OutreachWaveResult(BaseModel):
    """Counts and digests of a wave; the addresses stay in the documents folder."""

    model_config = ConfigDict(frozen=True)

    wave_id: str
    letters: int
    drawn: int
    groups: list[WaveGroup]
    extract_sha256: str
    list_sha256: str
    file: str  # relative to the documents folder (internal: addresses for the print shop)


class PurgeAddressesInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    procedure_id: str = Field(min_length=1)


class PurgeAddressesResult(BaseModel):
    """Which waves' lists were deleted now (each also an `outreach.addresses_purged` event)."""

    model_config = ConfigDict(frozen=True)

    waves: list[str]
    sha256: list[str]


def _bad_input(err: Exception) -> ApplicationError:
    return ApplicationError(str(err), type=type(err).__name__, non_retryable=True)


class SelectionActivities:
    """Files in, documents out; the audit events go through the storage activities."""

    def __init__(
        self, settings: SelectionSettings | None = None, pool: asyncpg.Pool | None = None
    ) -> None:
        """With `pool`, a procedure's pool must be its registered participants."""
        self._settings = settings or SelectionSettings()
        self._pool = pool

    @activity.defn(name=SELECT_PANEL)
    async def select_panel(self, data: SelectPanelInput) -> SelectionOutcome:
        """Draw a panel; conflicting quotas fail at once (a retry cannot fix them)."""
        from activities.selection.select import select_panel  # SciPy: only when selecting

        try:
            return await asyncio.to_thread(
                select_panel,
                data.people,
                data.quotas,
                data.k,
                data.seed,
                method=data.method,
                households=data.households,
                legacy_runs=data.legacy_runs,
                time_limit=data.time_limit,
            )
        except ValueError as err:  # InfeasibleQuotasError, bad k or seed: the input is wrong
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err

    @activity.defn(name=COMPARE_REGISTRATIONS)
    async def compare_registrations(
        self, data: CompareRegistrationsInput
    ) -> CompareRegistrationsResult:
        """Groups whose registrations fall short of their target share."""
        gaps = under_represented(data.registrations, data.targets, ratio=data.ratio)
        return CompareRegistrationsResult(gaps=gaps)

    @activity.defn(name=DRAW_PROCEDURE_PANEL)
    async def draw_procedure_panel(self, data: DrawProcedurePanelInput) -> ProcedurePanelResult:
        """A procedure's lottery; bad files, unknown ids, conflicting quotas fail without retry."""
        text, quotas, people = await asyncio.to_thread(self._read_pool, data)
        if self._pool is not None:
            from activities.selection.registrants import check_registered, id_lines

            try:
                await check_registered(
                    self._pool, data.procedure_id, id_lines(text), source=data.pool
                )
            except ValueError as err:
                raise _bad_input(err) from err
        return await asyncio.to_thread(self._draw_procedure_panel, data, quotas, people)

    def _read_pool(self, data: DrawProcedurePanelInput) -> tuple[str, Quotas, list[Person]]:
        from activities.selection.outreach import quotas_from_targets
        from activities.selection.parse import parse_pool_csv

        try:
            path = self._settings.data_file(data.pool)
            quotas = quotas_from_targets(data.targets, data.k, slack=data.slack)
            text = path.read_text(encoding="utf-8-sig")
            people = parse_pool_csv(text, quotas, source=data.pool, households=data.households)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise _bad_input(err) from err
        return text, quotas, people

    def _draw_procedure_panel(
        self, data: DrawProcedurePanelInput, quotas: Quotas, people: list[Person]
    ) -> ProcedurePanelResult:
        from activities.selection.documents import selection_files, write_files
        from activities.selection.select import select_panel

        try:
            outcome = select_panel(
                people,
                quotas,
                data.k,
                data.seed,
                method=data.method,
                households=data.households,
                legacy_runs=data.legacy_runs,
                time_limit=data.time_limit,
            )
        except ValueError as err:
            raise _bad_input(err) from err
        folder = self._settings.procedure_folder(data.procedure_id, "selection", data.selection_id)
        digests = write_files(folder, selection_files(outcome))
        return ProcedurePanelResult(
            selection_id=data.selection_id,
            panel=outcome.panel,
            audit=outcome.audit,
            probabilities=outcome.report.probabilities,
            legacy=outcome.report.legacy,
            complete=outcome.report.complete,
            quotas_met=outcome.report.all_quotas_met,
            folder=folder.relative_to(self._settings.documents_dir).as_posix(),
            documents=digests,
        )

    @activity.defn(name=DRAW_OUTREACH_WAVE)
    async def draw_outreach_wave(self, data: DrawOutreachWaveInput) -> OutreachWaveResult:
        """A targeted second wave; a missing or bad extract fails without retry."""
        return await asyncio.to_thread(self._draw_outreach_wave, data)

    def _draw_outreach_wave(self, data: DrawOutreachWaveInput) -> OutreachWaveResult:
        import csv
        import io

        from activities.selection.addresses import draw_wave, parse_extract
        from activities.selection.documents import write_files

        features = sorted({g.feature for g in data.gaps})
        try:
            text = self._settings.data_file(data.extract).read_text(encoding="utf-8-sig")
            extract = parse_extract(text, features, source=data.extract)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise _bad_input(err) from err
        rows, groups = draw_wave(extract, data.gaps, data.letters, data.wave_id)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=extract.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        folder = self._settings.procedure_folder(data.procedure_id, "outreach", data.wave_id)
        digests = write_files(folder, {"addresses.csv": buffer.getvalue().encode("utf-8")})
        return OutreachWaveResult(
            wave_id=data.wave_id,
            letters=data.letters,
            drawn=len(rows),
            groups=groups,
            extract_sha256=extract.sha256,
            list_sha256=digests["addresses.csv"],
            file=(folder / "addresses.csv").relative_to(self._settings.documents_dir).as_posix(),
        )

    @activity.defn(name=PURGE_OUTREACH_ADDRESSES)
    async def purge_outreach_addresses(self, data: PurgeAddressesInput) -> PurgeAddressesResult:
        """Delete the procedure's wave address lists (e.g. when the procedure ends); idempotent.

        The same as `civicflow selection purge-addresses PROCEDURE_ID`, for a workflow to call.
        """
        from activities.selection.retention import purge_addresses

        if self._pool is None:
            msg = "purge_outreach_addresses: this worker's selection activities have no database"
            raise ApplicationError(msg, type="ConfigError", non_retryable=True)
        try:
            result = await purge_addresses(self._pool, self._settings, data.procedure_id)
        except ValueError as err:  # a bad procedure id or a path outside the documents folder
            raise _bad_input(err) from err
        return PurgeAddressesResult(
            waves=[item.wave_id for item in result.purged],
            sha256=[item.sha256 for item in result.purged],
        )
