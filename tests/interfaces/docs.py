"""The README's examples, read from the README itself, so tests run what the docs say.

An example is a fenced block right after a marker line `<!-- example: NAME -->`. Commands are
written for `civicflow dev` (gRPC 127.0.0.1:7233, HTTP API 127.0.0.1:7243, task queue
`civicflow`); `temporal_argv` and `http_request` point them at the test's dev server and queue.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.interfaces.conftest import Stack
from worker.binaries import temporal_cli

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLES = ROOT / "definitions" / "examples"
DEV_GRPC = "127.0.0.1:7233"
DEV_HTTP = "http://127.0.0.1:7243"
DEV_QUEUE = "civicflow"

_BLOCK = re.compile(r"<!-- example: ([a-z0-9-]+) -->\n```[a-z]*\n(.*?)\n```", re.S)


def readme_examples() -> dict[str, str]:
    return dict(_BLOCK.findall(README.read_text(encoding="utf-8")))


def example(name: str) -> str:
    found = readme_examples()
    assert name in found, f"README.md has no example {name!r}; it has {sorted(found)}"
    return found[name]


def _argv(name: str) -> list[str]:
    return shlex.split(example(name).replace("\\\n", " "))


def temporal_argv(name: str, stack: Stack) -> list[str]:
    """The README's `temporal ...` command, aimed at the test server and task queue."""
    args = _argv(name)
    assert args[0] == "temporal", args
    out = [str(temporal_cli())]
    for prev, arg in itertools.pairwise(args):
        if arg == DEV_GRPC:
            arg = stack.address
        elif prev == "--task-queue" and arg == DEV_QUEUE:
            arg = stack.task_queue
        out.append(arg)
    return out


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: Any


def http_request(name: str, stack: Stack) -> Request:
    """The README's `curl ...` command as method, URL and JSON body, aimed at the test server."""
    args = _argv(name)
    assert args[0] == "curl", args
    method, url, body = "GET", "", None
    for prev, arg in itertools.pairwise(args):
        if prev == "-X":
            method = arg
        elif prev == "-d":
            body = json.loads(arg)
        elif arg.startswith("http"):
            url = arg
    assert url.startswith(DEV_HTTP), url
    if isinstance(body, dict) and body.get("taskQueue", {}).get("name") == DEV_QUEUE:
        body["taskQueue"]["name"] = stack.task_queue
    return Request(method, stack.http + url.removeprefix(DEV_HTTP), body)


def start_examples() -> dict[str, dict[str, Any]]:
    """definition id -> the StartProcedure JSON of `definitions/examples/<id>.json`."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(EXAMPLES.glob("*.json"))
    }
