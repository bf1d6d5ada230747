"""Problems found in a definition file, with positions, and the error that carries them all.

Shared by the loader (YAML and schema errors) and the semantic checks (`definitions.validate`),
so both report the same way: `path:line:col: dotted.path: problem`, then the source line
with a caret under the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DefinitionError", "Position", "Problem", "SourceMap"]

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column of a YAML node."""

    line: int
    column: int


@dataclass(frozen=True)
class SourceMap:
    """A loaded file: its name, raw data, lines, and where each node sits.

    `keys` holds mapping keys' positions, `values` those of values and sequence items. Paths
    are tuples of mapping keys and sequence indexes, e.g. `("phases", 1, "period")`.
    """

    source: str = "<definition>"
    data: Any = None
    keys: dict[Path, Position] = field(default_factory=dict)
    values: dict[Path, Position] = field(default_factory=dict)
    lines: tuple[str, ...] = ()

    def problem(self, path: Path, message: str) -> Problem:
        """A problem at `path`, positioned at its key (or its nearest existing ancestor)."""
        position = self.of(path)
        line_text = self.line_text(position.line) if position else None
        return Problem(self.source, self.dotted(path), message, position, line_text)

    def dotted(self, path: Path) -> str:
        """`phases.hearing.period`: list items that have an `id` (or `name`) are named by it."""
        parts: list[str] = []
        node = self.data
        for item in path:
            label = str(item)
            if isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict):
                    name = node.get("id", node.get("name"))
                    label = name if isinstance(name, str) and name else label
            elif isinstance(node, dict) and item in node:
                node = node[item]
            else:
                node = None
            parts.append(label)
        return ".".join(parts)

    def of(self, path: Path) -> Position | None:
        """The position of the field named by `path` (its key), or its nearest ancestor's."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            found = self.keys.get(prefix) or self.values.get(prefix)
            if found is not None:
                return found
        return None

    def line_text(self, line: int) -> str | None:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition, where it is and what was expected."""

    source: str
    path: str  # dotted, e.g. phases.hearing.period.duration ("" for the whole file)
    message: str
    position: Position | None = None
    line_text: str | None = None

    def format(self) -> str:
        where = self.source
        if self.position is not None:
            where += f":{self.position.line}:{self.position.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.position is not None and self.line_text is not None:
            gutter = f"{self.position.line:>5} | "
            caret = " " * (len(gutter) - 2) + "| " + " " * (self.position.column - 1) + "^"
            text += f"\n{gutter}{self.line_text}\n{caret}"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        pos = self.position or Position(0, 0)
        return (self.source, pos.line, pos.column, self.message)


class DefinitionError(ValueError):
    """A definition that cannot be used; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in definition"
        super().__init__(head + "\n" + "\n".join(p.format() for p in self.problems))
