"""deploy/Dockerfile, .dockerignore and deploy/runtime_requirements.py."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from types import ModuleType

import pytest

from tests.deploy.files import DEPLOY, ROOT, dockerfile_image, image_tag, is_pinned, project_version

DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


STEPS = instructions(DOCKERFILE)


def steps(keyword: str) -> list[str]:
    return [args for key, args in STEPS if key == keyword]


def runtime_requirements_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "runtime_requirements", DEPLOY / "runtime_requirements.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_base_image_is_an_exact_python_311_slim_bookworm_tag() -> None:
    external = [
        args.split()[0]
        for args in steps("FROM")
        if args.split()[0] not in {"base", "builder", "runtime"}
    ]
    assert external, "no FROM with an external image"
    for image in external:
        repo, tag = image_tag(image)
        assert repo == "python"
        assert re.fullmatch(r"3\.11\.\d+-slim-bookworm", tag or ""), image
        assert is_pinned(image)


def test_multi_stage_runtime_copies_only_the_venv_from_the_builder() -> None:
    stages = [args.split()[-1] for args in steps("FROM")]
    assert stages == ["base", "builder", "runtime"]
    assert STEPS[-1][0] in {"CMD", "ENTRYPOINT"}
    runtime = STEPS[
        next(i for i, (k, a) in enumerate(STEPS) if k == "FROM" and a.endswith("runtime")) :
    ]
    copies = [args for key, args in runtime if key == "COPY"]
    assert copies == ["--from=builder /opt/civicflow /opt/civicflow"]
    assert "pip wheel" in " ".join(steps("RUN")), "wheels are built in the builder stage"


def test_runs_as_a_numeric_non_root_user() -> None:
    users = steps("USER")
    assert users, "no USER instruction"
    uid = users[-1].split(":")[0]
    assert re.fullmatch(r"[1-9]\d{3,}", uid), f"USER {users[-1]}: want a numeric uid >= 1000"
    # USER comes after the last RUN, so nothing later runs as root.
    last_run = max(i for i, (key, _) in enumerate(STEPS) if key == "RUN")
    last_user = max(i for i, (key, _) in enumerate(STEPS) if key == "USER")
    assert last_user > last_run


def test_entrypoint_is_civicflow_and_default_command_is_worker() -> None:
    assert json.loads(steps("ENTRYPOINT")[-1]) == ["civicflow"]
    assert json.loads(steps("CMD")[-1]) == ["worker"]


def test_healthcheck_hits_the_metrics_endpoint_with_the_stdlib() -> None:
    (check,) = steps("HEALTHCHECK")
    assert "CMD" in check
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "python"
    assert "urllib.request" in command[-1]
    assert "/metrics" in command[-1]
    assert "CIVICFLOW_METRICS_PORT" in command[-1]
    assert "9464" in " ".join(steps("EXPOSE"))


def test_documented_image_tag_is_the_project_version() -> None:
    repo, tag = image_tag(dockerfile_image())
    assert repo == "civicflow"
    assert tag == project_version()
    label = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', DOCKERFILE)
    assert label is not None
    assert label.group(1) == project_version()


def test_copied_sources_are_every_package_and_exist() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    sources = {
        part
        for args in steps("COPY")
        if not args.startswith("--from")
        for part in args.split()[:-1]
    }
    assert packages <= sources, f"packages not copied into the image: {packages - sources}"
    assert "setup.py" in sources, "setup.py builds intake's C extension; the image needs it"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY source {source} does not exist"


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def glob_regex(pattern: str) -> str:
    """A .dockerignore pattern as a regex: `*` and `?` stay within one path segment,
    `[...]` is a character class, `**/` matches any number of folders (none included)."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern[i : i + 3] == "**/":
            out.append("(?:.*/)?")
            i += 3
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + r"\Z"


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: a path is out when it or a parent folder matches; the last matching
    pattern wins and `!` takes a path back in."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = glob_regex(pattern.removeprefix("!"))
        if any(re.match(regex, candidate) for candidate in candidates):
            result = not negate
    return result


def test_dockerignore_matcher_understands_our_patterns() -> None:
    assert ignored("a/b/__pycache__/x.pyc", ["**/__pycache__"])
    assert ignored("worker/cli.pyc", ["**/*.py[cod]"])
    assert not ignored("worker/cli.py", ["**/*.py[cod]"])
    assert not ignored("deploy/Dockerfile", ["deploy/*.key"])
    assert ignored("deploy/x/y.key", ["deploy/**/*.key"])
    assert ignored("deploy/y.key", ["deploy/**/*.key"])
    assert not ignored("tests/keep.py", ["tests", "!tests/keep.py"])


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".civicflow/pg/data",
        ".git/HEAD",
        ".pytest_cache/v/x",
        ".mypy_cache/3.11/x",
        ".ruff_cache/x",
        "worker/__pycache__/cli.cpython-311.pyc",
        "deploy/.env",
        "deploy/civicflow.env",
        "tests/conftest.py",
    ],
)
def test_dockerignore_keeps_local_state_out_of_the_context(path: str) -> None:
    assert ignored(path, dockerignore_patterns())


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    patterns = dockerignore_patterns()
    for args in steps("COPY"):
        if args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert not ignored(source, patterns), f".dockerignore drops {source}, which COPY needs"


def test_runtime_requirements_leave_out_only_the_dev_binaries() -> None:
    module = runtime_requirements_module()
    pyproject = ROOT / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {module.normalize(req) for req in declared}
    kept = module.runtime_requirements(pyproject)
    kept_names = {module.normalize(req) for req in kept}
    # Every name on the dev-only list is really a dependency (else the list has rotted).
    assert names >= module.DEV_ONLY
    assert kept_names == names - module.DEV_ONLY
    assert {"temporalio", "asyncpg", "pydantic", "prometheus-client"} <= kept_names
    # Version bounds are kept verbatim.
    assert all(req in declared for req in kept)


def test_runtime_requirements_prints_one_requirement_per_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = runtime_requirements_module()
    assert module.main(["runtime_requirements.py", str(ROOT / "pyproject.toml")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == module.runtime_requirements(ROOT / "pyproject.toml")


def test_runtime_requirements_rejects_a_nameless_requirement() -> None:
    module = runtime_requirements_module()
    with pytest.raises(ValueError, match="cannot read a project name"):
        module.normalize(">=1.0")


def test_command_tree_imports_without_the_dev_only_packages() -> None:
    """The image's build step runs `civicflow --help` without pgserver; so does this test.
    A top-level import of a dev-only package anywhere under `civicflow` would fail both."""
    blocked = ["pgserver"]  # the binaries packages ship no importable module
    code = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # import now raises ImportError\n"
        "from worker.cli import main\n"
        "sys.argv = ['civicflow', '--help']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "worker" in result.stdout
    assert "migrate" in result.stdout
