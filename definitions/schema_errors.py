"""Pydantic validation errors as positioned problems of a definition file.

Maps each error's `loc` to the YAML node it is about (dropping the discriminator tags and union
member names pydantic inserts), words the message for someone editing YAML (unknown fields get
a "did you mean", numbers where text is expected a quoting hint) and merges the messages of
union members that fail at the same place.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from definitions.problems import Problem, SourceMap
from definitions.schema import Definition

__all__ = ["problems"]

Path = tuple[str | int, ...]
_UNION_MEMBER_TAGS: Final = frozenset({"int", "str", "bool", "float", "none"})
_FIELD_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*$")


def _schema_path(loc: tuple[str | int, ...], data: Any) -> Path:
    """Map a pydantic error location to a path in the YAML data.

    Pydantic inserts discriminator tags (`hearing`) and union member names (`int`,
    `function-after[...]`) into `loc`; those are not in the file and are dropped.
    """
    path: list[str | int] = []
    node = data
    for item in loc:
        in_list = isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node)
        if in_list or (isinstance(node, dict) and item in node):
            node = node[item]
        elif isinstance(item, str) and (
            not _FIELD_NAME.match(item)
            or item in _UNION_MEMBER_TAGS
            or (isinstance(node, dict) and item in (node.get("type"), node.get("kind")))
        ):
            continue
        else:
            node = None
        path.append(item)
    return tuple(path)


def _normalise(annotation: Any) -> Any:
    """Strip `Annotated` and `Optional` so the next step sees the model or list inside."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        if is_union and len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _step(annotation: Any, item: str | int) -> Any:
    annotation = _normalise(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(item))
        return field.annotation if field is not None else None
    if typing.get_origin(annotation) is list and isinstance(item, int):
        return typing.get_args(annotation)[0]
    for member in typing.get_args(annotation):  # a tagged union: `item` is the tag
        member = _normalise(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            for tag_field in ("type", "kind"):
                field = member.model_fields.get(tag_field)
                if field is not None and item in typing.get_args(field.annotation):
                    return member
    return None


def _allowed_fields(loc: tuple[str | int, ...]) -> list[str]:
    """The field names the model accepts where `loc[-1]` was found (empty if unknown)."""
    annotation: Any = Definition
    for item in loc[:-1]:
        annotation = _step(annotation, item)
        if annotation is None:
            return []
    annotation = _normalise(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unknown_field_message(loc: tuple[str | int, ...]) -> str:
    allowed = _allowed_fields(loc)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        return f"unknown field; did you mean {close[0]!r}?"
    if allowed:
        return f"unknown field; expected one of {', '.join(allowed)}"
    return "unknown field (not part of the definition format)"


def _schema_message(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_field_message(tuple(err["loc"]))
    if kind == "union_tag_invalid":
        ctx = err["ctx"]
        return f"expected one of {ctx['expected_tags']}, got {json.dumps(ctx['tag'])}"
    message: str = err["msg"]
    message = message.removeprefix("Value error, ")
    given = err.get("input")
    if kind != "value_error" and (isinstance(given, str | int | float | bool) or given is None):
        message += f", got {json.dumps(given, ensure_ascii=False, default=str)}"
    if kind == "string_type" and isinstance(given, int | float | bool):
        message += " (YAML read it as a number or yes/no: put it in quotes)"
    return message


def problems(exc: ValidationError, source_map: SourceMap) -> list[Problem]:
    """One problem per place in the file, positioned through `source_map`."""
    by_path: dict[Path, list[str]] = {}
    for err in exc.errors(include_url=False):
        path = _schema_path(tuple(err["loc"]), source_map.data)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, str(err["ctx"]["discriminator"]).strip("'"))
        messages = by_path.setdefault(path, [])
        message = _schema_message(err)
        if message not in messages:
            messages.append(message)
    return [source_map.problem(path, "; or ".join(msgs)) for path, msgs in by_path.items()]
