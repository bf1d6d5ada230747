"""Paths and parsers shared by the deploy tests (pure Python: PyYAML, json, re)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEPLOY",
    "ROOT",
    "compose",
    "dockerfile_image",
    "image_tag",
    "is_pinned",
    "k8s_documents",
    "load_yaml",
    "project_version",
    "yaml_files",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# repository[:tag][@digest]; the tag is what we pin.
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9][a-z0-9._/:-]*?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@sha256:[0-9a-f]{64})?$"
)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return data


def k8s_documents(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object in `folder` (recursively), kustomization files excluded."""
    for path in sorted(folder.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.name == "temporal-values.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield path, doc


def image_tag(reference: str) -> tuple[str, str | None]:
    """(repository, tag) of an image reference; tag None when absent."""
    match = _IMAGE.match(reference)
    if match is None:
        msg = f"not an image reference: {reference!r}"
        raise ValueError(msg)
    return match.group("repo"), match.group("tag")


def is_pinned(reference: str) -> bool:
    """A tag that names an exact release (has a dotted version), never `latest`."""
    _, tag = image_tag(reference)
    return tag is not None and tag != "latest" and re.search(r"\d+\.\d+", tag) is not None


def dockerfile_image() -> str:
    """The image name and tag deploy/Dockerfile documents on its `# image:` line."""
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("# image:"):
            return line.split(":", 1)[1].strip()
    msg = "deploy/Dockerfile has no '# image: NAME:TAG' line"
    raise AssertionError(msg)


def project_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version: str = data["project"]["version"]
    return version
