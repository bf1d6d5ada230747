"""The hash-chained audit log: append (serialised per procedure) and verify.

Each event's canonical payload holds everything that identifies it (procedure, seq, event id,
type, time, data); its hash is sha256(prev_hash || payload). Appends lock the procedure's row in
`audit_heads`, so concurrent writers (two activities of the same procedure on two workers) take
turns, and a retried append with the same event id returns the row that is already there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from activities.storage.canonical import GENESIS_HASH, canonical_json, chain_hash

__all__ = [
    "AppendedEvent",
    "BrokenLink",
    "ChainLinks",
    "ChainReport",
    "NewEvent",
    "append_event_on_server",
    "append_events",
    "chain_events",
    "event_payload",
    "lock_head",
    "payload_parts",
    "verify_chain",
    "write_links",
]


@dataclass(frozen=True)
class NewEvent:
    """An event to append; `event_id` is its idempotency key within the procedure."""

    event_id: str
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppendedEvent:
    event_id: str
    event_type: str
    seq: int
    hash: str
    created: bool
    """False when the event was already in the log (a retried append)."""


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        msg = f"occurred_at: expected a timezone-aware datetime, got naive {value.isoformat()}"
        raise ValueError(msg)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_payload(procedure_id: str, seq: int, event: NewEvent) -> str:
    """The canonical text that is hashed and stored for `event` at position `seq`."""
    return canonical_json(
        {
            "procedure_id": procedure_id,
            "seq": seq,
            "event_id": event.event_id,
            "type": event.event_type,
            "occurred_at": _timestamp(event.occurred_at),
            "data": dict(event.data),
        }
    )


_SEQ_PLACEHOLDER = -(2**62)
"""A seq no event has (seqs start at 1): marks where `payload_parts` cuts the payload."""


def payload_parts(procedure_id: str, event: NewEvent) -> tuple[str, str]:
    """The canonical payload of `event` around its seq: `before + str(seq) + after` is
    `event_payload(procedure_id, seq, event)` for every seq.

    Keys are sorted, so the top-level `"seq":` comes right before `"type"`, the last key; the
    last occurrence of the marked pair is therefore the top-level one, whatever `data` holds.
    """
    marked = event_payload(procedure_id, _SEQ_PLACEHOLDER, event)
    before, found, rest = marked.rpartition(f'"seq":{_SEQ_PLACEHOLDER},"type":')
    if not found:  # cannot happen while event_payload keeps its keys
        msg = "event payload: the top-level seq was not found"
        raise RuntimeError(msg)
    return before + '"seq":', ',"type":' + rest


async def append_event_on_server(
    conn: asyncpg.Connection, procedure_id: str, event: NewEvent, parts: tuple[str, str]
) -> AppendedEvent:
    """Append one event that is new (its id derived from rows inserted in this transaction)
    in one round trip: the server locks the head, numbers, hashes and writes it (migration
    0008, `audit_append_event`). `parts` is `payload_parts(procedure_id, event)`, passed in
    so that intake can compute it while the server still inserts the batch's last part.

    The head stays locked until the caller's transaction ends, as with `lock_head`.
    """
    row = await conn.fetchrow(
        "SELECT seq, hash FROM audit_append_event($1, $2, $3, $4, $5, $6)",
        procedure_id,
        event.event_id,
        event.event_type,
        event.occurred_at,
        *parts,
    )
    assert row is not None  # the function always returns its one row
    return AppendedEvent(event.event_id, event.event_type, row["seq"], row["hash"], created=True)


async def lock_head(conn: asyncpg.Connection, procedure_id: str) -> tuple[int, str]:
    """Lock the procedure's chain head until the transaction ends; return (seq, hash).

    Every writer of a procedure's events (and of its statements) takes this lock first, so
    appends are serialised per procedure while different procedures never wait on each other.
    """
    # One round trip: the no-op DO UPDATE locks the row (new or existing) and returns it, and
    # unlike SELECT ... FOR UPDATE it also sees a head that a concurrent writer just created.
    head = await conn.fetchrow(
        "INSERT INTO audit_heads AS h (procedure_id) VALUES ($1) ON CONFLICT (procedure_id) "
        "DO UPDATE SET last_seq = h.last_seq RETURNING last_seq, last_hash",
        procedure_id,
    )
    assert head is not None  # RETURNING of an upsert always yields the row
    return int(head["last_seq"]), str(head["last_hash"])


@dataclass(frozen=True)
class ChainLinks:
    """New events chained onto a head, ready to insert: the pure half of an append.

    Separate from the write so that intake can compute its event's payload and hash while the
    server is still busy with the batch's COPY.
    """

    procedure_id: str
    rows: list[tuple[Any, ...]]
    appended: list[AppendedEvent]
    last_seq: int
    last_hash: str


def chain_events(
    procedure_id: str, events: Sequence[NewEvent], head: tuple[int, str]
) -> ChainLinks:
    """Number and hash `events` after `head` (seq, hash); nothing is written."""
    seq, prev = head
    rows: list[tuple[Any, ...]] = []
    appended: list[AppendedEvent] = []
    for event in events:
        seq += 1
        payload = event_payload(procedure_id, seq, event)
        digest = chain_hash(prev, payload)
        ident = (procedure_id, seq, event.event_id, event.event_type, event.occurred_at)
        rows.append((*ident, payload, prev, digest))
        appended.append(AppendedEvent(event.event_id, event.event_type, seq, digest, created=True))
        prev = digest
    return ChainLinks(procedure_id, rows, appended, seq, prev)


async def write_links(conn: asyncpg.Connection, links: ChainLinks) -> None:
    """Insert chained rows and move the head, in one round trip, in the caller's transaction.

    The caller holds the head lock (`lock_head`) taken when `links` was computed.
    """
    if not links.rows:
        return
    columns = list(zip(*links.rows, strict=True))
    await conn.execute(
        "WITH appended AS (INSERT INTO events (procedure_id, seq, event_id, event_type, "
        "occurred_at, payload, prev_hash, hash) SELECT * FROM unnest($1::text[], "
        "$2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], "
        "$8::text[])) "
        "UPDATE audit_heads SET last_seq = $10, last_hash = $11 WHERE procedure_id = $9",
        *(list(column) for column in columns),
        links.procedure_id,
        links.last_seq,
        links.last_hash,
    )


# The lookup of ids already in the log: one unique-index probe per id. The events table grows
# by thousands of rows a second during a large hearing, so its statistics are always stale,
# and a planner trusting them picked a scan of all of the procedure's events per append (or
# per id): appends then cost time in proportion to the log (a 100,000-statement hearing ran
# 3 x slower after three 20,000-statement ones). Sequential and bitmap scans are switched off
# for this one query (SET LOCAL: this transaction only), and LIMIT 1 keeps the subquery from
# being flattened into a join the planner could reorder. The engine's appends skip the lookup
# on a first attempt altogether (`known_new`); this is the path of retries.
_STORED_EVENTS = """
SELECT e.event_id, e.event_type, e.seq, e.hash
FROM unnest($2::text[]) AS k(event_id)
CROSS JOIN LATERAL (
    SELECT event_id, event_type, seq, hash FROM events
    WHERE procedure_id = $1 AND event_id = k.event_id
    LIMIT 1
) AS e
"""


async def _probing_indexes(conn: asyncpg.Connection, sql: str, *args: Any) -> list[asyncpg.Record]:
    """`sql` planned without sequential or bitmap scans; the caller's transaction only."""
    await conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
    finally:
        await conn.execute("RESET enable_seqscan; RESET enable_bitmapscan")
    return rows


async def _stored_events(
    conn: asyncpg.Connection, procedure_id: str, ids: list[str]
) -> list[asyncpg.Record]:
    return await _probing_indexes(conn, _STORED_EVENTS, procedure_id, ids)


async def append_events(
    conn: asyncpg.Connection,
    procedure_id: str,
    events: Sequence[NewEvent],
    *,
    head: tuple[int, str] | None = None,
    known_new: bool = False,
) -> list[AppendedEvent]:
    """Append `events` to the procedure's chain; must run inside the caller's transaction.

    Events whose id is already in the log are not appended again; their stored seq and hash are
    returned with `created=False`. The result is in input order. A caller that already holds
    the head lock in this transaction passes what `lock_head` returned as `head`; one that
    knows the ids are new (derived from rows it just inserted) passes `known_new` to skip the
    lookup; the unique key still guards it.
    """
    if not conn.is_in_transaction():
        msg = "append_events: expected to run inside a transaction (the chain head is locked)"
        raise RuntimeError(msg)
    if not events:
        return []
    head = head if head is not None else await lock_head(conn, procedure_id)
    ids = [event.event_id for event in events]
    found = [] if known_new else await _stored_events(conn, procedure_id, ids)
    stored = {
        row["event_id"]: AppendedEvent(
            row["event_id"], row["event_type"], row["seq"], row["hash"], created=False
        )
        for row in found
    }
    new: dict[str, NewEvent] = {}
    for event in events:  # the first of repeated ids wins, as if appended one by one
        if event.event_id not in stored:
            new.setdefault(event.event_id, event)
    links = chain_events(procedure_id, list(new.values()), head)
    await write_links(conn, links)
    stored.update((appended.event_id, appended) for appended in links.appended)
    return [stored[event_id] for event_id in ids]


@dataclass(frozen=True)
class BrokenLink:
    """The first row at which the chain does not hold, and why."""

    seq: int
    event_id: str | None
    reason: str

    def describe(self) -> str:
        where = f"seq {self.seq}" + (f" (event_id {self.event_id})" if self.event_id else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    procedure_id: str
    events_checked: int
    last_hash: str
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _check_row(row: asyncpg.Record, procedure_id: str, seq: int, prev: str) -> str | None:
    """Why `row` does not continue the chain at `seq` after `prev`, or None if it does."""
    if row["seq"] != seq:
        return f"expected seq {seq}, found seq {row['seq']} (a row is missing)"
    if row["prev_hash"] != prev:
        return f"prev_hash {row['prev_hash']} does not match the previous row's hash {prev}"
    payload: str = row["payload"]
    try:
        parsed = json.loads(payload)
    except ValueError:
        return "payload is not valid JSON"
    if not isinstance(parsed, dict) or canonical_json(parsed) != payload:
        return "payload is not in canonical form (it was rewritten)"
    expected = {
        "procedure_id": procedure_id,
        "seq": seq,
        "event_id": row["event_id"],
        "type": row["event_type"],
        "occurred_at": _timestamp(row["occurred_at"]),
    }
    for key, value in expected.items():
        if parsed.get(key) != value:
            return f"column {key} = {value!r} differs from the hashed payload's {parsed.get(key)!r}"
    if chain_hash(prev, payload) != row["hash"]:
        return "hash does not match sha256(prev_hash || payload): the payload was altered"
    return None


async def verify_chain(pool: asyncpg.Pool, procedure_id: str) -> ChainReport:
    """Recompute the procedure's chain from the first event; report the first broken row."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow(
            "SELECT last_seq, last_hash FROM audit_heads WHERE procedure_id = $1", procedure_id
        )
        seq, prev, checked = 0, GENESIS_HASH, 0
        cursor = conn.cursor(
            "SELECT seq, event_id, event_type, occurred_at, payload, prev_hash, hash "
            "FROM events WHERE procedure_id = $1 ORDER BY seq",
            procedure_id,
            prefetch=1000,
        )
        async for row in cursor:
            seq += 1
            reason = _check_row(row, procedure_id, seq, prev)
            if reason is not None:
                broken = BrokenLink(row["seq"], row["event_id"], reason)
                return ChainReport(procedure_id, checked, prev, broken)
            prev = row["hash"]
            checked += 1
    head_seq = 0 if head is None else head["last_seq"]
    head_hash = GENESIS_HASH if head is None else head["last_hash"]
    if head_seq != seq or head_hash != prev:
        reason = (
            f"the chain head records seq {head_seq} with hash {head_hash}, but the log ends at "
            f"seq {seq} with hash {prev} (rows were deleted or the head was altered)"
        )
        first_unmatched = min(head_seq, seq) + 1
        return ChainReport(procedure_id, checked, prev, BrokenLink(first_unmatched, None, reason))
    return ChainReport(procedure_id, checked, prev, None)
