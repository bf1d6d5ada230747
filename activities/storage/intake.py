"""Batched statement intake: one COPY for the new rows, one audit event for the batch.

Why COPY straight into `statements` and not into a temp table plus `INSERT ... ON CONFLICT`:
the first attempt copies the whole batch directly: a fresh batch (the normal case) costs one
COPY, about twice as fast as the temp-table route. If the primary key finds a duplicate (a
retried activity, an overlapping batch), that transaction rolls back and a second one looks
the ids up and copies only the new rows; should a concurrent writer commit some of the same
ids in between, the key refuses them again and the lookup is repeated. Either way each
statement is stored once and reported once.

The procedure's chain head is locked only for the batch's event, after the COPY, by the
server-side append (`audit.append_event_on_server`, one round trip): batches of one
procedure from several workers COPY side by side and take turns only for their events.

The rows travel as binary COPY chunks encoded by `pgcopy` (three times cheaper than asyncpg's
generic encoder, and streamed, so the server inserts while the client encodes). The key is
the statement id alone, as a `uuid` (migration 0006): ids are uuid5s of the procedure and the
idempotency key (`records.stable_id`), and a 16-byte key costs each row's index insertion half
of what the text pair did; intake refuses an id that is not such a uuid before any I/O.

The batch's audit event `statements.stored` (`digest_form: pg-binary-copy-2`, `BATCH_FORM`)
anchors every row: for each new statement, in the order sent, its id and the first 16 hex
digits of the sha256 of exactly the bytes that were sent for it, and `batch_digest`, the
sha256 over those rows' full 32-byte digests in the same order. `verify` recomputes the
digests from the stored rows: a row whose digest prefix differs is named, and the batch
digest proves all rows unaltered at full strength. (Before, the event carried each full digest
as hex beside its id: 108 KB per 1,000 statements instead of 60 KB, and its JSON took longer
to write.)
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import operator
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg

from activities.records import StatementRecord, stable_id
from activities.storage.audit import NewEvent, append_event_on_server, payload_parts
from activities.storage.pgcopy import (
    HEADER,
    INT4_MAX,
    TRAILER,
    encode_hashed_rows,
    encode_statement_rows,
    uuid_bytes,
)

__all__ = [
    "BATCH_FORM",
    "DIGEST_PREFIX",
    "STATEMENT_COLUMNS",
    "IntakeOutcome",
    "batch_digest",
    "row_digest",
    "store_statements",
]

BATCH_FORM = "pg-binary-copy-2"
"""`digest_form` of `statements.stored` events written since migration 0006 (see above)."""
DIGEST_PREFIX = 16
"""Hex digits of each row's digest in the event: enough to name an altered row (64 bits), while
`batch_digest` carries the full strength of sha256."""

STATEMENT_COLUMNS = (
    "procedure_id",
    "statement_id",
    "sequence",
    "round",
    "phase_id",
    "author_ref",
    "statement_type",
    "text",
    "attachments",
    "received_at",
    "late",
    "receipt_digest",
)


_CHUNK_ROWS = 100
"""Rows per encoding step of `_BatchStream.encode_soon` (~40 KB): the event loop serves the COPY
in flight between steps."""
_FIRST_ROWS = 125
"""Rows of a batch's first COPY statement (see `_parts`)."""
_COPY_ROWS = 300
"""Rows per later COPY statement at most (see `_copy_and_chain`): 1,000-row batches in four
parts were fastest (7.5 ms a batch against 8.1 with two parts and 8.3 with three, on an idle
machine)."""
_ROW = operator.attrgetter(*STATEMENT_COLUMNS)
"""A record's values in `STATEMENT_COLUMNS` order, as a tuple (one C call per record)."""


def row_digest(row: Sequence[object]) -> bytes:
    """sha256 of a statement row (`STATEMENT_COLUMNS` order, the id as uuid text or object)
    encoded as intake sends it: the digest `BATCH_FORM` events anchor."""
    values = list(row)
    values[1] = str(values[1])
    return hashlib.sha256(encode_statement_rows([values])[0]).digest()


def batch_digest(digests: Sequence[bytes]) -> str:
    """sha256 over the rows' full digests in the event's order, as hex."""
    return hashlib.sha256(b"".join(digests)).hexdigest()


@dataclass(frozen=True)
class IntakeOutcome:
    stored: list[str]
    duplicate_ids: list[str]
    same_content_ids: list[str] = field(default_factory=list)
    """Duplicates whose stored row equals the incoming record field for field: in practice a
    retry of a call whose commit succeeded but whose reply was lost (the record carries the
    workflow's acceptance time and sequence, so a later resend differs). Reported to the
    engine as `StoreStatementsResult.same_content_ids`, which counts them as stored."""


async def store_statements(
    conn: asyncpg.Connection, procedure_id: str, statements: Sequence[StatementRecord]
) -> IntakeOutcome:
    """Store the new statements of one procedure; report the ids that were already there."""
    # Refused before any I/O; whole-batch checks in C first, the loop only to name the row.
    if set(map(_PROCEDURE, statements)) != {procedure_id} or (
        statements and max(max(map(_SEQUENCE, statements)), max(map(_ROUND, statements))) > INT4_MAX
    ):
        _name_bad_row(procedure_id, statements)
    ids = list(map(_ID, statements))
    uuid_bytes(ids)  # refuses, before any I/O, an id the key's type cannot hold
    unique: dict[str, StatementRecord]
    if len(set(ids)) == len(ids):  # the normal case: C-speed
        unique = dict(zip(ids, statements, strict=True))
    else:  # the first of repeated ids wins
        unique = {}
        for s in statements:
            unique.setdefault(s.statement_id, s)
    try:
        # Optimistic: a first attempt has no duplicates, so skip the lookup; the primary key
        # still guards, and a violation rolls back and takes the careful path below.
        return await _store(conn, procedure_id, ids, unique, check_existing=False)
    except _OVERLAP:
        pass
    attempts_left = _CAREFUL_ATTEMPTS
    while True:
        try:
            return await _store(conn, procedure_id, ids, unique, check_existing=True)
        except _OVERLAP:
            # A concurrent writer committed some of these ids after the lookup (a retried
            # activity racing its first attempt): look again.
            attempts_left -= 1
            if not attempts_left:
                raise


_OVERLAP = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError)
"""What a concurrent batch with some of the same ids causes: the key refuses a row another
transaction committed, or two such transactions wait on each other's rows and PostgreSQL
ends one of them."""
_CAREFUL_ATTEMPTS = 3


_PROCEDURE = operator.attrgetter("procedure_id")
_SEQUENCE = operator.attrgetter("sequence")
_ROUND = operator.attrgetter("round")
_RECEIVED = operator.attrgetter("received_at")
_ID = operator.attrgetter("statement_id")


def _name_bad_row(procedure_id: str, statements: Sequence[StatementRecord]) -> None:
    """Raise the error of the first statement of another procedure or beyond `integer`."""
    for index, s in enumerate(statements):
        if s.procedure_id != procedure_id:
            msg = (
                f"statements[{index}].procedure_id: expected {procedure_id!r} (the batch's "
                f"procedure), got {s.procedure_id!r}"
            )
            raise ValueError(msg)
        if s.sequence > INT4_MAX or s.round > INT4_MAX:
            name, value = ("sequence", s.sequence) if s.sequence > INT4_MAX else ("round", s.round)
            msg = (
                f"statements[{index}].{name}: expected an integer up to {INT4_MAX} "
                f"(PostgreSQL integer), got {value}"
            )
            raise ValueError(msg)


class _BatchStream:
    """The batch as binary COPY data, one part per COPY statement; on the way, each row's
    digest and the batch's event.

    A binary COPY inserts its rows (heap and primary key, the server's expensive part) only
    when it has buffered 1,000 of them or reaches its end: its 64 KB limit counts text lines
    only. Streamed rows therefore did not overlap the client's encoding with the server's
    inserting. Now the batch goes in parts, and part k+1 is encoded (`encode_soon`, a chunk at
    a time, yielding to the event loop) while the server inserts part k: on two cores the
    client's and the server's work overlap instead of adding up.
    """

    def __init__(self, procedure_id: str, records: list[StatementRecord]) -> None:
        self._procedure_id = procedure_id
        self._records = records
        self._digests: list[bytes] = []
        """The rows' 32-byte digests in order, a chunk's worth per item."""
        self.event: tuple[NewEvent, tuple[str, str]] | None = None

    def encode(self, first: int, stop: int) -> bytes:
        """Rows `first` to `stop` as one COPY's data (header to trailer), hashed on the way."""
        return b"".join(
            self._chunk(start, first, stop) for start in range(first, stop, _CHUNK_ROWS)
        )

    async def encode_soon(self, first: int, stop: int) -> bytes:
        """`encode`, a chunk at a time: the COPY in flight is served between chunks."""
        chunks = []
        for start in range(first, stop, _CHUNK_ROWS):
            await asyncio.sleep(0)
            chunks.append(self._chunk(start, first, stop))
        return b"".join(chunks)

    def _chunk(self, start: int, first: int, stop: int) -> bytes:
        # Row tuples live for one chunk only: thousands of tuples kept for the whole call
        # would be promoted by the garbage collector and make its full collections (which
        # walk a worker's whole heap) come sooner.
        end = min(start + _CHUNK_ROWS, stop)
        data, digests = encode_hashed_rows([_ROW(s) for s in self._records[start:end]])
        self._digests.append(digests)
        prefix = HEADER if start == first else b""
        suffix = TRAILER if end == stop else b""
        return prefix + data + suffix

    async def describe_soon(self) -> None:
        """The batch's event and its payload around the seq, once every row is hashed."""
        await asyncio.sleep(0)
        event = self._event()
        self.event = (event, payload_parts(self._procedure_id, event))

    def _event(self) -> NewEvent:
        records = self._records
        ids = list(map(_ID, records))
        joined = b"".join(self._digests)
        hexed = joined.hex()
        return NewEvent(
            # Derived from statements inserted just now, so it cannot be in the log yet.
            event_id=stable_id(self._procedure_id, "statements.stored", *ids),
            event_type="statements.stored",
            occurred_at=max(map(_RECEIVED, records)),
            # Two flat lists: JSON of one list of pairs took four times as long to write.
            data={
                "statements": ids,
                "row_digests": [hexed[i : i + DIGEST_PREFIX] for i in range(0, len(hexed), 64)],
                "batch_digest": hashlib.sha256(joined).hexdigest(),
                "digest_form": BATCH_FORM,
            },
        )


def _parts(rows: int) -> list[tuple[int, int]]:
    """(first, stop) of each COPY part: a short first part, then up to `_COPY_ROWS` each.

    The first part is encoded while the server waits; the later ones while it inserts the
    part before. 125 + 3 x 292 for a 1,000-row batch was 0.26-0.29 ms (3.5 %) faster than
    4 x 250 in alternating runs of 40 batches each, twice.
    """
    first = min(rows, _FIRST_ROWS)
    rest = rows - first
    count = -(-rest // _COPY_ROWS)  # ceil: parts of at most _COPY_ROWS, as even as they come
    bounds = [0, first] + [first + rest * (k + 1) // count for k in range(count)]
    return list(itertools.pairwise(bounds))


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _copy_and_describe(
    conn: asyncpg.Connection, procedure_id: str, records: list[StatementRecord]
) -> tuple[NewEvent, tuple[str, str]]:
    """COPY `records` into `statements`; return the batch's audit event and its payload parts.

    At most `_COPY_ROWS` rows per COPY statement, for two reasons. The server inserts a part
    while the client encodes the next (see `_BatchStream`). And a binary COPY keeps up to
    1,000 rows in slots of their own, and PostgreSQL 15 registers every slot's tuple
    descriptor in the transaction's resource owner with a cost that grows with the number
    already there: for 1,000-row batches, two COPYs of 500 cost the server 3.9-4.1 instead of
    4.3-4.5 us of CPU a row (perf task-clock of the backend, three runs).
    """
    stream = _BatchStream(procedure_id, records)
    parts = _parts(len(records))
    data = stream.encode(*parts[0])
    for index in range(len(parts)):
        later = parts[index + 1] if index + 1 < len(parts) else None
        # Started before this part's COPY is awaited, so it runs while the server inserts.
        following = asyncio.ensure_future(
            stream.encode_soon(*later) if later is not None else stream.describe_soon()
        )
        try:
            await conn.copy_to_table(
                "statements", source=_once(data), columns=STATEMENT_COLUMNS, format="binary"
            )
        except BaseException:
            following.cancel()
            raise
        encoded = await following
        if encoded is not None:
            data = encoded
    if stream.event is None:  # the last part's follower describes the event: never expected
        msg = "store_statements: the batch's event was not described"
        raise RuntimeError(msg)
    return stream.event


_EXISTING = (
    "SELECT "
    + ", ".join(
        "statement_id::text AS statement_id" if c == "statement_id" else c
        for c in STATEMENT_COLUMNS
    )
    + " FROM statements WHERE statement_id = ANY($1::uuid[])"
)
"""The stored rows of a batch's ids, the id as text (as the records carry it). The key is the
id alone, so a row of another procedure is found too: an id reused across procedures."""


def _split(ids: list[str], existing: set[str]) -> tuple[list[str], list[str]]:
    """(ids to store, duplicate ids) in input order; a repeat within the batch is a duplicate."""
    seen = set(existing)
    stored: list[str] = []
    duplicates: list[str] = []
    for statement_id in ids:
        if statement_id in seen:
            duplicates.append(statement_id)
        else:
            seen.add(statement_id)
            stored.append(statement_id)
    return stored, duplicates


async def _store(
    conn: asyncpg.Connection,
    procedure_id: str,
    ids: list[str],
    unique: dict[str, StatementRecord],
    *,
    check_existing: bool,
) -> IntakeOutcome:
    async with conn.transaction():
        existing: set[str] = set()
        identical: set[str] = set()
        if check_existing:
            found = await conn.fetch(_EXISTING, list(unique))
            for row in found:
                statement_id = row["statement_id"]
                if row["procedure_id"] != procedure_id:
                    index = ids.index(statement_id)
                    msg = (
                        f"statements[{index}].statement_id: {statement_id} is already stored "
                        f"for another procedure ({row['procedure_id']!r}), not {procedure_id!r}"
                    )
                    raise ValueError(msg)
                existing.add(statement_id)
                if tuple(row) == _ROW(unique[statement_id]):
                    identical.add(statement_id)
        stored: list[str] = ids
        duplicates: list[str] = []
        records = [*unique.values()]
        if existing or len(unique) != len(ids):  # else the normal case: every id new, once
            stored, duplicates = _split(ids, existing)
            records = [unique[i] for i in stored]
        if stored:
            event, parts = await _copy_and_describe(conn, procedure_id, records)
            await append_event_on_server(conn, procedure_id, event, parts)
    return IntakeOutcome(stored, duplicates, [i for i in unique if i in identical])
