"""Payload helpers of the update handlers: parse loose JSON into a model or refuse with a
code naming the field, and the statement ids, computed the cheap way inside the sandbox.

Pure functions, deterministic, no I/O; `workflows.engine` re-exports them.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.messages as m
    from activities.records import ID_NAMESPACE
    from workflows.errors import Code, Rejected

__all__ = ["key_text", "parse_payload", "payload_code", "reject", "sandbox_stable_id"]

_M = TypeVar("_M", bound=BaseModel)


def sandbox_stable_id(*parts: str) -> str:
    """`activities.records.stable_id`, the same uuid5, without uuid5's per-call import.

    `uuid.uuid5` runs `from hashlib import sha1` on every call, and inside the workflow
    sandbox every import statement goes through the sandbox's import hook: that made ids
    about a fifth of the intake's workflow CPU (two per statement). This is uuid5's own
    computation (RFC 4122 §4.3) with hashlib imported once; tests/workflows/test_intake_ids.py
    checks that both give the same ids.
    """
    name = "\x1f".join(parts).encode("utf-8")
    digest = hashlib.sha1(ID_NAMESPACE.bytes + name, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def parse_payload(model: type[_M], raw: Any, *, handler: bool = False) -> _M:
    """Updates take loose JSON so a bad payload is rejected naming the field (not "Failed
    decoding arguments"); the validator has already parsed it once when the handler runs."""
    # JSON arrives as a dict; the sandbox's `isinstance` (it unwraps proxies) costs more
    if type(raw) is not dict and isinstance(raw, model):
        return raw
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        msg = f"{model.__name__}: {m.first_error(err)}"
        raise Rejected(payload_code(err), msg) from err


def payload_code(err: ValidationError) -> Code:
    """The code of a payload that does not fit its model (judged by the first problem)."""
    first = err.errors()[0] if err.errors() else None
    if first is None:
        return Code.INVALID_PAYLOAD
    if first["type"] == "extra_forbidden":
        return Code.UNKNOWN_FIELD
    if "attachments" in (str(p) for p in first["loc"]) and first["type"] == "value_error":
        return Code.ATTACHMENT_SCHEME_NOT_ALLOWED
    return Code.INVALID_PAYLOAD


def key_text(key: Any) -> str | None:
    return None if key is None else str(key)[:200]


def reject(err: Rejected) -> ApplicationError:
    """A check that failed inside a handler (after the start-up wait) fails the update only."""
    return Rejected(err.code, err.detail)
