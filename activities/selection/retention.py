"""Deleting the address lists of outreach waves (GDPR Art. 5(1)(e), storage limitation).

A second invitation wave writes `documents_dir/<procedure>/outreach/<wave>/addresses.csv`:
names and addresses from a population-register extract, needed only until the print shop has
sent the letters. A municipal data-protection officer expects such a list to be deleted as
soon as that purpose is served, by a documented procedure, with a record that it happened
and no copy of the data in the record. So:

- `purge_addresses(pool, settings, procedure_id)` deletes every wave list of a procedure now
  (at the end of the procedure, or once the letters are out); `older_than` restricts it to
  lists written longer ago than the retention period (a nightly sweep over all procedures,
  see `purge_all`);
- each deleted list gets an `outreach.addresses_purged` event in the procedure's hash chain:
  wave id, file, the list's SHA-256 (the digest `outreach.wave_drawn` logged, so the chain
  shows that the list it vouched for is gone), size and reason; never a name or an address;
- each list's event is appended and its file deleted in one database transaction: if the
  deletion fails, that event is not recorded (lists deleted before it keep theirs); a
  repeated run finds nothing left and changes nothing;
- every path is checked to resolve inside the documents folder (no `..`, no symlink to
  elsewhere) before anything is deleted.

The register extract itself (in the data folder) is the administrator's input and is deleted
by them; panel reports hold only pseudonymous ids and are kept as the procedure's documents.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from activities.records import stable_id
from activities.selection.settings import FILE_NAME, FileNameError, SelectionSettings
from activities.storage.audit import NewEvent, append_events

__all__ = [
    "ADDRESS_LIST",
    "PURGED_EVENT",
    "OutsideDocumentsError",
    "PurgeResult",
    "PurgedList",
    "address_lists",
    "purge_addresses",
    "purge_all",
]

ADDRESS_LIST = "addresses.csv"
PURGED_EVENT = "outreach.addresses_purged"


class OutsideDocumentsError(ValueError):
    """A path to delete would leave the documents folder; nothing was deleted."""


@dataclass(frozen=True)
class PurgedList:
    wave_id: str
    file: str  # relative to the documents folder
    sha256: str
    size: int


@dataclass(frozen=True)
class PurgeResult:
    procedure_id: str
    purged: list[PurgedList]
    kept: list[str]
    """Wave ids whose list is younger than the retention period (kept for now)."""


def _check_procedure_id(procedure_id: str) -> None:
    if "/" in procedure_id or FILE_NAME.match(procedure_id) is None:
        msg = (
            f"procedure_id {procedure_id!r}: expected a plain folder name "
            "(letters, digits, '_', '-', '.'; no '/', not starting with '.')"
        )
        raise FileNameError(msg)


def address_lists(settings: SelectionSettings, procedure_id: str) -> list[tuple[str, Path]]:
    """(wave id, path) of every address list of the procedure, sorted; all checked inside."""
    _check_procedure_id(procedure_id)
    root = settings.documents_dir.resolve()
    folder = settings.procedure_folder(procedure_id, "outreach")
    if not folder.is_dir():
        return []
    found: list[tuple[str, Path]] = []
    for wave in sorted(folder.iterdir()):
        target = wave / ADDRESS_LIST
        if not (wave.is_dir() and (target.exists() or target.is_symlink())):
            continue
        if target.is_symlink() or not target.resolve().is_relative_to(root):
            msg = (
                f"{target}: expected a regular file inside the documents folder {root}; "
                "refusing to delete (a symlink or a path outside it)"
            )
            raise OutsideDocumentsError(msg)
        found.append((wave.name, target))
    return found


async def purge_addresses(
    pool: asyncpg.Pool,
    settings: SelectionSettings,
    procedure_id: str,
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> PurgeResult:
    """Delete the procedure's wave address lists (those older than `older_than`, if given)."""
    when = now or datetime.now(UTC)
    lists = address_lists(settings, procedure_id)
    due: list[tuple[str, Path]] = []
    kept: list[str] = []
    for wave_id, path in lists:
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if older_than is not None and when - written < older_than:
            kept.append(wave_id)
        else:
            due.append((wave_id, path))
    if not due:
        return PurgeResult(procedure_id, purged=[], kept=kept)
    root = settings.documents_dir.resolve()
    purged: list[PurgedList] = []
    for wave_id, path in due:
        content = path.read_bytes()
        relative = path.resolve().relative_to(root).as_posix()
        purged.append(
            PurgedList(wave_id, relative, hashlib.sha256(content).hexdigest(), len(content))
        )
    reason = "retention" if older_than is not None else "purge"
    events = [
        NewEvent(
            event_id=stable_id(procedure_id, PURGED_EVENT, item.wave_id, item.sha256),
            event_type=PURGED_EVENT,
            occurred_at=when,
            data={
                "wave_id": item.wave_id,
                "file": item.file,
                "sha256": item.sha256,
                "bytes": item.size,
                "reason": reason,
                "retention_days": older_than.days if older_than is not None else None,
            },
        )
        for item in purged
    ]
    done: list[PurgedList] = []
    async with pool.acquire() as conn:
        for item, event, (_, path) in zip(purged, events, due, strict=True):
            # One list per transaction: a failed unlink rolls back only its own event, and
            # the lists deleted before it keep theirs.
            async with conn.transaction():
                await append_events(conn, procedure_id, [event])
                path.unlink(missing_ok=True)
            done.append(item)
    return PurgeResult(procedure_id, purged=done, kept=kept)


async def purge_all(
    pool: asyncpg.Pool,
    settings: SelectionSettings,
    *,
    older_than: timedelta,
    now: datetime | None = None,
) -> list[PurgeResult]:
    """The nightly sweep: every procedure's lists older than the retention period."""
    root = settings.documents_dir
    if not root.is_dir():
        return []
    results: list[PurgeResult] = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or FILE_NAME.match(folder.name) is None:
            continue
        if not (folder / "outreach").is_dir():
            continue
        results.append(
            await purge_addresses(pool, settings, folder.name, older_than=older_than, now=now)
        )
    return results
