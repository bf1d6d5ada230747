"""Logs carry Temporal identifiers; metrics of civicflow and the SDK share one endpoint."""

from __future__ import annotations

import io
import json
import logging
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import free_port, new_worker
from tests.worker.probes import TelemetryProbe, telemetry_probe
from worker.prometheus import MetricsEndpoint
from worker.telemetry import Metrics, TelemetryInterceptor, configure_logging

SDK_TEXT = b'# TYPE temporal_request_total counter\ntemporal_request_total{x="y"} 3\n'


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_json_logs_carry_bound_workflow_identity(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    with structlog.contextvars.bound_contextvars(workflow_id="wf-1", run_id="run-1"):
        structlog.get_logger("civicflow.test").info("hello", answer=42)
    structlog.get_logger("civicflow.test").debug("below the level")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1
    assert lines[0]["event"] == "hello"
    assert lines[0]["workflow_id"] == "wf-1"
    assert lines[0]["run_id"] == "run-1"
    assert lines[0]["level"] == "info"


def test_sdk_log_extras_become_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    logging.getLogger("temporalio.workflow").info(
        "phase ended",
        extra={"temporal_workflow": {"workflow_id": "wf-2", "run_id": "r-2", "secret": "x"}},
    )
    line = json.loads(out.getvalue())
    assert line["event"] == "phase ended"
    assert line["workflow_id"] == "wf-2"
    assert line["run_id"] == "r-2"
    assert "secret" not in json.dumps(line)


def test_console_format_is_not_json(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "console", stream=out)
    structlog.get_logger("civicflow.test").info("readable")
    text = out.getvalue()
    assert "readable" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_metrics_use_the_given_registry() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.procedures_started.inc()
    metrics.statements_received.inc(3)
    metrics.outbox_incidents.set(2)
    text = generate_latest(registry).decode()
    assert "civicflow_procedures_started_total 1.0" in text
    assert "civicflow_statements_received_total 3.0" in text
    assert "civicflow_outbox_incidents 2.0" in text
    # A second instance on its own registry does not clash with the first.
    Metrics(CollectorRegistry())


class _FixedText(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(SDK_TEXT)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def test_endpoint_appends_sdk_exposition() -> None:
    sdk = ThreadingHTTPServer(("127.0.0.1", 0), _FixedText)
    thread = threading.Thread(target=sdk.serve_forever, daemon=True)
    thread.start()
    metrics = Metrics(CollectorRegistry())
    sdk_url = f"http://127.0.0.1:{sdk.server_address[1]}/metrics"
    endpoint = MetricsEndpoint(metrics.registry, "127.0.0.1", 0, sdk_url)
    endpoint.start()
    try:
        text = _scrape(endpoint.port)
    finally:
        endpoint.stop()
        sdk.shutdown()
        sdk.server_close()
    assert "civicflow_procedures_started_total 0.0" in text
    assert "civicflow_sdk_metrics_up 1" in text
    assert 'temporal_request_total{x="y"} 3' in text


def test_endpoint_survives_missing_sdk_exporter() -> None:
    metrics = Metrics(CollectorRegistry())
    endpoint = MetricsEndpoint(
        metrics.registry, "127.0.0.1", 0, f"http://127.0.0.1:{free_port()}/metrics"
    )
    endpoint.start()
    try:
        text = _scrape(endpoint.port)
    finally:
        endpoint.stop()
    assert "civicflow_sdk_metrics_up 0" in text
    assert "civicflow_outbox_incidents" in text


def test_endpoint_stops_without_having_started() -> None:
    endpoint = MetricsEndpoint(CollectorRegistry(), "127.0.0.1", 0, None)
    endpoint.stop()  # must not hang


async def test_interceptor_binds_identity_and_counts_failures(env: WorkflowEnvironment) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    worker = new_worker(
        env.client,
        TelemetryProbe,
        activities=[telemetry_probe],
        interceptors=[TelemetryInterceptor(metrics)],
    )
    async with worker:
        workflow_id = f"telemetry-{uuid.uuid4()}"
        bound = await env.client.execute_workflow(
            TelemetryProbe.run, False, id=workflow_id, task_queue=worker.task_queue
        )
        with pytest.raises(WorkflowFailureError):
            await env.client.execute_workflow(
                TelemetryProbe.run, True, id=f"{workflow_id}-f", task_queue=worker.task_queue
            )
    assert bound["workflow_id"] == workflow_id
    assert bound["activity_type"] == "telemetry_probe"
    assert bound["workflow_type"] == "TelemetryProbe"
    assert bound["run_id"]
    failures = registry.get_sample_value(
        "civicflow_activity_failures_total", {"activity_type": "telemetry_probe"}
    )
    assert failures == 1.0
    attempts = registry.get_sample_value(
        "civicflow_activity_duration_seconds_count", {"activity_type": "telemetry_probe"}
    )
    assert attempts == 2.0
    # Bindings belong to the activity's task, not to whoever ran the worker.
    assert "workflow_id" not in structlog.contextvars.get_contextvars()
