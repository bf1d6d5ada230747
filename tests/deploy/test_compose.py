"""deploy/compose.yaml: services, pinning, secrets, and `docker compose config` if available."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.deploy.files import DEPLOY, compose, dockerfile_image, is_pinned

REQUIRED = {
    "postgresql",
    "temporal-schema",
    "temporal",
    "temporal-setup",
    "temporal-ui",
    "migrate",
    "worker",
    "codec-server",
    "prometheus",
    "grafana",
}
SECRETS = ("TEMPORAL_DB_PASSWORD", "CIVICFLOW_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD")


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def test_has_every_required_service() -> None:
    assert set(services()) >= REQUIRED


def test_every_image_is_pinned_to_an_exact_tag() -> None:
    for name, service in services().items():
        image = service.get("image")
        assert image, f"service {name} has no image"
        assert is_pinned(image), f"service {name}: image {image!r} is not pinned to a release"


def test_worker_and_migrate_use_the_image_the_dockerfile_builds() -> None:
    expected = dockerfile_image()
    for name in ("worker", "migrate"):
        service = services()[name]
        assert service["image"] == expected
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert (context / service["build"]["dockerfile"]).is_file()
    assert services()["worker"]["command"] == ["worker"]
    assert services()["migrate"]["command"] == ["migrate"]


def test_two_workers_after_migrations_and_search_attributes() -> None:
    worker = services()["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"
    assert "ports" not in worker, "replicas cannot share a host port; Prometheus finds them by DNS"
    assert worker["read_only"] is True
    grace = float(worker["environment"]["CIVICFLOW_SHUTDOWN_GRACE_SECONDS"])
    assert float(worker["stop_grace_period"].rstrip("s")) > grace


def test_temporal_runs_on_the_stacks_postgresql_with_schema_first() -> None:
    temporal = services()["temporal"]
    assert temporal["environment"]["DB"] == "postgres12"
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgresql"
    # Shards are fixed at first start; the file sets them on purpose and says so.
    assert int(temporal["environment"]["NUM_HISTORY_SHARDS"]) >= 4
    assert "CANNOT BE CHANGED" in (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    dynamic = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert any(volume.endswith(f":{dynamic}:ro") for volume in temporal["volumes"])
    assert temporal["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    # Server, schema tool and setup job are one Temporal release.
    versions = {
        services()[name]["image"].rsplit(":", 1)[1]
        for name in ("temporal", "temporal-schema", "temporal-setup")
    }
    assert len(versions) == 1, versions


def test_worker_environment_names_real_settings() -> None:
    from activities.selection.settings import SelectionSettings
    from worker.config import SECRET_FIELDS, Settings

    known = {f"CIVICFLOW_{field.upper()}" for field in Settings.model_fields}
    known |= {f"CIVICFLOW_{field.upper()}_FILE" for field in SECRET_FIELDS}
    known |= {f"CIVICFLOW_SELECTION_{field.upper()}" for field in SelectionSettings.model_fields}
    env = services()["worker"]["environment"]
    assert set(env) <= known, f"unknown settings: {set(env) - known}"
    assert env["CIVICFLOW_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["CIVICFLOW_DATABASE_URL"].startswith("postgresql://")


def test_worker_mounts_the_selection_folders_data_read_only() -> None:
    worker = services()["worker"]
    env = worker["environment"]
    mounts = {}
    for volume in worker["volumes"]:
        source, target, *mode = (
            volume.rsplit(":", 2) if volume.count(":") > 1 else (*volume.split(":", 1),)
        )
        mounts[target] = (source, mode)
    data_source, data_mode = mounts[env["CIVICFLOW_SELECTION_DATA_DIR"]]
    assert data_mode == ["ro"], "the worker only reads pools and register extracts"
    assert data_source.startswith(("/", "${")), "a host folder the administrator fills"
    documents_source, documents_mode = mounts[env["CIVICFLOW_SELECTION_DOCUMENTS_DIR"]]
    assert documents_mode == []
    assert documents_source in compose()["volumes"], "documents live in a named volume"
    # The worker runs as 10001 on a read-only root: the named volume is handed to it first.
    owner = services()["selection-documents-owner"]
    assert owner["entrypoint"] == ["chown", "10001:10001", env["CIVICFLOW_SELECTION_DOCUMENTS_DIR"]]
    assert owner["volumes"] == [f"{documents_source}:{env['CIVICFLOW_SELECTION_DOCUMENTS_DIR']}"]
    assert worker["depends_on"]["selection-documents-owner"]["condition"] == (
        "service_completed_successfully"
    )


def test_secrets_are_required_variables_never_values() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    for name in SECRETS:
        assert re.search(rf"\$\{{{name}:\?[^}}]*\}}", text), f"{name} is not required with :?"
    # No literal password anywhere: every *PASSWORD*/*PWD* value is a required variable.
    for line in text.splitlines():
        if re.search(r"(PASSWORD|PWD)\s*:", line):
            assert re.search(r"\$\{\w+:\?", line), line
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    for name in SECRETS:
        assert re.search(rf"^{name}=$", example, re.MULTILINE), f"{name} missing or filled in"
    gitignore = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in gitignore
    assert "civicflow.env" in gitignore


def test_mounted_files_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return probe.returncode == 0


needs_compose = pytest.mark.skipif(
    not docker_compose_available(),
    reason="docker compose (client plugin) not installed; the engine is not needed",
)


def compose_config(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in SECRETS}
    env.update(extra_env)
    return subprocess.run(
        # The example env file (secrets empty), not a local deploy/.env that may be filled.
        [
            "docker",
            "compose",
            "--env-file",
            str(DEPLOY / ".env.example"),
            "-f",
            str(DEPLOY / "compose.yaml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
        cwd=DEPLOY.parent,
    )


@needs_compose
def test_docker_compose_accepts_the_file() -> None:
    result = compose_config({name: "test-only-value" for name in SECRETS})
    assert result.returncode == 0, result.stderr


@needs_compose
def test_docker_compose_refuses_to_start_without_secrets() -> None:
    result = compose_config({})
    assert result.returncode != 0
    assert "TEMPORAL_DB_PASSWORD" in result.stderr or "CIVICFLOW_DB_PASSWORD" in result.stderr


def test_dependencies_wait_for_what_their_condition_needs() -> None:
    for name, service in services().items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):  # the short form: service_started
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, condition in depends.items():
            assert target in services(), f"{name} depends on unknown {target}"
            wanted = condition["condition"]
            if wanted == "service_healthy":
                assert "test" in services()[target].get("healthcheck", {}), (name, target)
            elif wanted == "service_completed_successfully":
                # A one-shot job: restarting it would keep dependants waiting forever.
                assert services()[target].get("restart") == "no", (name, target)
            else:
                assert wanted == "service_started", (name, target)


def test_interpolations_are_well_formed() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    found = re.findall(r"\$\{[^}]*\}", text)
    assert found
    for item in found:
        assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(?::?[-?][^}]*)?\}", item), item
