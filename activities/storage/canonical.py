"""Canonical JSON and the hashes built on it.

The audit chain hashes bytes, so the same event must always serialise to the same bytes:
sorted keys, no insignificant whitespace, UTF-8, no NaN or infinity. Floats are written in
Python's shortest round-trip form; `verify` re-reads and re-writes them with the same rules, so
the check is exact. (A verifier in another language must format floats the same way; payloads
that want to be portable use integers and strings.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from activities.storage.pgcopy import encode_statement_rows

__all__ = [
    "CANONICAL_ENCODER",
    "GENESIS_HASH",
    "STATEMENT_ROW_FORM",
    "CanonicalError",
    "canonical_json",
    "chain_hash",
    "record_digest",
    "salted_digest",
    "statement_digest",
    "statement_row_digest",
]

GENESIS_HASH = "0" * 64
"""`prev_hash` of the first event of every procedure."""


class CanonicalError(ValueError):
    """A value cannot be written canonically (NaN, an object that is not JSON, ...)."""


CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
"""One shared encoder: `json.dumps` with options builds a new encoder on every call."""


def canonical_json(value: Any) -> str:
    """`value` as canonical JSON text (sorted keys, compact separators, UTF-8)."""
    try:
        return CANONICAL_ENCODER.encode(value)
    except (TypeError, ValueError) as err:
        msg = f"payload: expected finite JSON values (dict, list, str, number, bool, null): {err}"
        raise CanonicalError(msg) from err


def chain_hash(prev_hash: str, canonical_payload: str) -> str:
    """sha256(prev_hash || canonical payload) as hex: one link of the audit chain."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_payload.encode("utf-8")).hexdigest()


def salted_digest(salt: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under `salt`: a pseudonym that dies with the salt on erasure."""
    return hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            msg = f"expected a timezone-aware datetime, got naive {value.isoformat()}"
            raise CanonicalError(msg)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def record_digest(*values: object) -> str:
    """sha256 over a record's stored fields, in a fixed order: its fingerprint in the chain.

    The same function runs on the record when it is written and on the row when it is
    verified, so datetimes are normalised to UTC and dates to ISO text first.
    """
    return hashlib.sha256(canonical_json([_plain(value) for value in values]).encode()).hexdigest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def statement_digest(
    statement_id: str,
    sequence: int,
    round_: int,
    phase_id: str,
    author_ref: str | None,
    statement_type: str,
    text: str,
    attachments: Sequence[str],
    received_at: datetime,
    late: bool,
    receipt_digest: str,
) -> str:
    """The record digest of a statement in the first form: netstrings, not JSON.

    `statements.stored` events written before `STATEMENT_ROW_FORM` existed carry these, and
    `verify` still checks them. Strings are length-prefixed (`<len>:<text>`), so no field can
    bleed into the next; the time is whole microseconds since the epoch.
    """
    author = "-" if author_ref is None else "%d:%s" % (len(author_ref), author_ref)  # noqa: UP031
    files = "".join(["%d:%s" % (len(a), a) for a in attachments])  # noqa: UP031
    # %-formatting: about twice as fast as f-strings with helper calls, in intake's hot loop.
    text_form = "%d:%s|%d|%d|%d:%s|%s|%d:%s|%d:%s|%d[%s]|%d|%d|%s" % (  # noqa: UP031
        len(statement_id),
        statement_id,
        sequence,
        round_,
        len(phase_id),
        phase_id,
        author,
        len(statement_type),
        statement_type,
        len(text),
        text,
        len(attachments),
        files,
        (received_at - _EPOCH) // _MICROSECOND,
        late,
        receipt_digest,
    )
    return hashlib.sha256(text_form.encode()).hexdigest()


STATEMENT_ROW_FORM = "pg-binary-copy"
"""`digest_form` of a `statements.stored` event whose digests are `statement_row_digest`s.

Events without `digest_form` (written before it existed) carry `statement_digest`s."""


def statement_row_digest(row: Sequence[Any]) -> str:
    """sha256 of the statement row (values in `intake.STATEMENT_COLUMNS` order) encoded as a
    PostgreSQL binary COPY tuple: intake hashes the very bytes it sends, see `pgcopy`.

    The binary tuple is length-prefixed field by field, so it is as unambiguous as the
    netstrings of `statement_digest`, and it costs intake no second formatting pass.
    """
    # Intake sent the id as text then; it is a uuid column since migration 0006.
    return hashlib.sha256(encode_statement_rows([row], text_ids=True)[0]).hexdigest()
