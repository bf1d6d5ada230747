"""Statement rows in PostgreSQL's binary COPY format, encoded here for intake's hot path.

Why not asyncpg's `copy_records_to_table`, which encodes the same format:
- it is generic (a codec lookup and type checks per field): for statement rows it costs about
  2.4 ms per 1,000 rows against 0.85 ms for this loop, which knows the twelve columns;
- it buffers up to 512 KB before it sends a byte, so a batch of 1,000 statements (~400 KB) is
  encoded whole while the server waits; intake instead streams chunks through
  `copy_to_table(source=...)`, and the server inserts one chunk while the next is encoded;
- the bytes of each row are an unambiguous, length-prefixed serialisation of its stored
  fields, so intake hashes them for the row's audit digest instead of formatting the row a
  second time (`canonical.statement_row_digest`).

The format (PostgreSQL manual, COPY, "Binary Format"): a signature and two int32 header
fields, then per row an int16 field count and per field an int32 length (-1 for NULL) and the
type's binary (send/recv) form, all integers big-endian; an int16 -1 ends the data.
- text, bpchar: the UTF-8 bytes (the connection's client_encoding is UTF8);
- uuid: its 16 bytes;
- integer: int32; boolean: one byte 0 or 1;
- timestamptz: int64 microseconds since 2000-01-01 00:00 UTC;
- text[]: int32 dimensions (0 or 1), int32 has-nulls flag, int32 element type oid (25, text);
  for one dimension its int32 length and int32 lower bound (1); then each element as a field.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "COLUMN_TYPES",
    "COMPILED",
    "HEADER",
    "INT4_MAX",
    "TRAILER",
    "encode_hashed_rows",
    "encode_statement_rows",
    "uuid_bytes",
]


def _compiled_loop() -> Callable[[Sequence[Sequence[Any]]], tuple[bytes, bytes]] | None:
    """`_copyrows.encode_hashed`, built from `_copyrows.c` at install time where a compiler
    and OpenSSL's headers are; None elsewhere."""
    try:
        from activities.storage._copyrows import encode_hashed
    except ImportError:  # pragma: no cover - depends on the machine that installed civicflow
        return None
    return encode_hashed


_encode_hashed_compiled = _compiled_loop()

COMPILED = _encode_hashed_compiled is not None
"""Whether `encode_hashed_rows` runs the C loop (`_copyrows.c`) or the Python one."""

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)

COLUMN_TYPES = (
    ("procedure_id", "text"),
    ("statement_id", "uuid"),
    ("sequence", "integer"),
    ("round", "integer"),
    ("phase_id", "text"),
    ("author_ref", "text"),
    ("statement_type", "text"),
    ("text", "text"),
    ("attachments", "text[]"),
    ("received_at", "timestamp with time zone"),
    ("late", "boolean"),
    ("receipt_digest", "character(64)"),
)
"""The columns this encoder writes and the PostgreSQL types it writes them as; a test checks
them against the `statements` table, so a migration that changes a type cannot go unnoticed."""

_COLUMNS = len(COLUMN_TYPES)
_TEXT_OID = 25
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
INT4_MAX = 2**31 - 1
"""Largest value of a PostgreSQL `integer` (sequence, round)."""

_length = struct.Struct("!i").pack
_two_int4 = struct.Struct("!iiii").pack  # length 4, value, length 4, value
_time_and_flag = struct.Struct("!iqi?").pack  # length 8, timestamp, length 1, boolean
_NULL = _length(-1)
_EMPTY_TEXT_ARRAY = _length(12) + struct.pack("!iii", 0, 0, _TEXT_OID)
_ROW_START = struct.pack("!h", _COLUMNS)
_UUID_LENGTH = _length(16)


def _field(value: str) -> bytes:
    data = value.encode()
    return _length(len(data)) + data


def _text_array(items: Sequence[str]) -> bytes:
    if not items:
        return _EMPTY_TEXT_ARRAY
    body = struct.pack("!iiiii", 1, 0, _TEXT_OID, len(items), 1) + b"".join(map(_field, items))
    return _length(len(body)) + body


_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid_bytes(ids: Sequence[str]) -> bytes:
    """Statement ids in canonical uuid text (as `records.stable_id` writes them) as 16 bytes
    each, concatenated; a ValueError names the first id that is not such a uuid.

    Canonical text only (lower case, hyphens): the column reads back in that form, and intake
    reports duplicates by the ids the caller sent. One pass of C-speed string operations
    over the whole batch instead of a conversion per id.
    """
    count = len(ids)
    if not count:
        return b""
    lines = "\n".join(ids) + "\n"
    if len(lines) == 37 * count:
        hyphens = "-" * count
        # 37-character blocks with a hyphen at 8, 13, 18, 23 and a newline at 36 each ...
        if (
            lines[8::37] == hyphens
            and lines[13::37] == hyphens
            and lines[18::37] == hyphens
            and lines[23::37] == hyphens
            and lines[36::37] == "\n" * count
        ):
            hexed = lines.replace("-", "").replace("\n", "")
            # ... and only lower-case hex digits elsewhere: then each id is one block.
            if len(hexed) == 32 * count:
                try:
                    data = bytes.fromhex(hexed)
                except ValueError:
                    data = b""
                if data.hex() == hexed:
                    return data
    for index, value in enumerate(ids):
        if not isinstance(value, str) or not _UUID.fullmatch(value):
            msg = (
                f"statements[{index}].statement_id: expected a lower-case uuid "
                f"(records.stable_id of the procedure and idempotency key), got {value!r}"
            )
            raise ValueError(msg)
    msg = "statement ids: expected lower-case uuids"  # unreachable: some id failed above
    raise ValueError(msg)


def _check_int4(rows: Sequence[Sequence[Any]]) -> None:
    """Name the row and column that `struct` refused (the hot loop does not check ranges)."""
    for index, row in enumerate(rows):
        for position, name in ((2, "sequence"), (3, "round")):
            if not -INT4_MAX - 1 <= row[position] <= INT4_MAX:
                msg = (
                    f"statements[{index}].{name}: expected an integer up to {INT4_MAX} "
                    f"(PostgreSQL integer), got {row[position]}"
                )
                raise ValueError(msg)


def encode_statement_rows(rows: Sequence[Sequence[Any]], *, text_ids: bool = False) -> list[bytes]:
    """Each row (values in `intake.STATEMENT_COLUMNS` order) as one binary COPY tuple.

    The statement id is written as a `uuid` (migration 0006); `text_ids` writes it as text
    instead, as intake sent it before, to recompute digests of the `pg-binary-copy` form.
    """
    out: list[bytes] = []
    append = out.append
    if text_ids:
        ids = [_field(str(row[1])) for row in rows]
        id_length = b""
    else:
        data = uuid_bytes([row[1] for row in rows])
        ids = [data[i : i + 16] for i in range(0, len(data), 16)]
        id_length = _UUID_LENGTH
    # Procedure, phase and type repeat within a batch: encode each distinct value once (the
    # procedure together with the row's start and the id's length, which precede and follow it).
    starts: dict[str, bytes] = {}
    fields: dict[str, bytes] = {}
    try:
        for (
            procedure_id,
            _,
            seq,
            round_,
            phase,
            author,
            kind,
            text,
            files,
            received,
            late,
            digest,
        ), sid in zip(rows, ids, strict=True):
            start = starts.get(procedure_id)
            if start is None:
                start = starts[procedure_id] = _ROW_START + _field(procedure_id) + id_length
            phase_field = fields.get(phase)
            if phase_field is None:
                phase_field = fields[phase] = _field(phase)
            kind_field = fields.get(kind)
            if kind_field is None:
                kind_field = fields[kind] = _field(kind)
            text_bytes = text.encode()
            digest_bytes = digest.encode()
            append(
                b"".join(
                    (
                        start,
                        sid,
                        _two_int4(4, seq, 4, round_),
                        phase_field,
                        _NULL if author is None else _field(author),
                        kind_field,
                        _length(len(text_bytes)),
                        text_bytes,
                        _text_array(files) if files else _EMPTY_TEXT_ARRAY,
                        _time_and_flag(8, (received - _PG_EPOCH) // _MICROSECOND, 1, late),
                        _length(len(digest_bytes)),
                        digest_bytes,
                    )
                )
            )
    except struct.error:
        _check_int4(rows)
        raise
    return out


def encode_hashed_rows(rows: Sequence[Sequence[Any]]) -> tuple[bytes, bytes]:
    """The rows as binary COPY tuples, concatenated, and the sha256 of each tuple,
    concatenated: intake's hot loop.

    The C loop writes the same bytes as `encode_statement_rows` (tests compare them) in about
    a tenth of the time; without it, the Python loop. Errors name the row and field as the
    Python encoder's do.
    """
    if _encode_hashed_compiled is None:
        encoded = encode_statement_rows(rows)
        sha256 = hashlib.sha256
        return b"".join(encoded), b"".join([sha256(row).digest() for row in encoded])
    try:
        return _encode_hashed_compiled(rows)
    except OverflowError:
        _check_int4(rows)  # names the field if it is a sequence or round
        raise
    except ValueError:
        uuid_bytes([row[1] for row in rows])  # names the id
        raise
