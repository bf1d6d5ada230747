"""Configuration errors name the setting (and its variable) in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from worker.cli import app
from worker.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"temporal_address": "localhost"}, "temporal_address (CIVICFLOW_TEMPORAL_ADDRESS)"),
        ({"temporal_address": "host:99999"}, "temporal_address (CIVICFLOW_TEMPORAL_ADDRESS)"),
        ({"temporal_namespace": ""}, "temporal_namespace (CIVICFLOW_TEMPORAL_NAMESPACE)"),
        ({"task_queue": ""}, "task_queue (CIVICFLOW_TASK_QUEUE)"),
        ({"database_url": "mysql://db/x"}, "database_url (CIVICFLOW_DATABASE_URL)"),
        ({"database_schema": "Bad-Schema"}, "database_schema (CIVICFLOW_DATABASE_SCHEMA)"),
        ({"database_pool_size": 0}, "database_pool_size (CIVICFLOW_DATABASE_POOL_SIZE)"),
        ({"metrics_port": 70000}, "metrics_port (CIVICFLOW_METRICS_PORT)"),
        ({"log_level": "loud"}, "log_level (CIVICFLOW_LOG_LEVEL)"),
        ({"log_format": "xml"}, "log_format (CIVICFLOW_LOG_FORMAT)"),
        ({"shutdown_grace_seconds": -1}, "shutdown_grace_seconds (CIVICFLOW_SHUTDOWN_GRACE_"),
        ({"max_concurrent_activities": 0}, "max_concurrent_activities"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_invalid_setting_is_named(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert message.startswith("invalid configuration: ")
    assert named in message
    assert "\n" not in message


def test_tls_cert_without_key_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("not really a cert")
    with pytest.raises(ConfigError, match="temporal_tls_cert and temporal_tls_key"):
        load_settings(temporal_tls_cert=cert)


def test_missing_tls_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=r"TLS file .*nope\.pem does not exist"):
        load_settings(temporal_tls_ca=missing)


def test_environment_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICFLOW_METRICS_PORT", "not-a-port")
    with pytest.raises(ConfigError, match=r"metrics_port \(CIVICFLOW_METRICS_PORT\)"):
        load_settings()


def test_flag_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICFLOW_TASK_QUEUE", "from-env")
    monkeypatch.setenv("CIVICFLOW_LOG_LEVEL", "debug")
    settings = load_settings(task_queue="from-flag", log_level=None)
    assert settings.task_queue == "from-flag"
    assert settings.log_level == "debug"


def test_worker_command_reports_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(app, ["worker", "--log-level", "loud", "--metrics-port", "0"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("civicflow worker: invalid configuration: log_level")
