"""Logs and metrics of a civicflow process.

Logs: structlog, JSON lines when stdout is not a terminal (or when asked), a readable console
renderer on a terminal. Standard-library records (the Temporal SDK, Core forwarded through
it) go through the same processors, so one process writes one format. Records carry the
workflow id, run id and activity type where known: activities get them bound as contextvars by
`TelemetryInterceptor`; `workflow.logger` / `activity.logger` records get them lifted out of the
SDK's `temporal_workflow` / `temporal_activity` extras.

Metrics: `Metrics`, civicflow's own Prometheus metrics (the SDK's `temporal_*` ones come from
Core, see worker/prometheus.py), and the interceptor that counts failed activity attempts and
their duration. Activities receive the `Metrics` instance from the worker; they describe the
part they update with a Protocol, so activities never import worker code.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, MutableMapping
from importlib import metadata
from typing import Any, Literal, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from temporalio import activity, workflow
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

__all__ = ["Metrics", "TelemetryInterceptor", "configure_logging", "temporal_context"]

LogFormat = Literal["auto", "json", "console"]

_HANDLER_NAME = "civicflow"

# Keys of the SDK's logging extras that are worth a top-level field (never payloads).
_LIFTED = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_id": "activity_id",
    "activity_type": "activity_type",
    "attempt": "attempt",
    "namespace": "namespace",
    "task_queue": "task_queue",
}


def temporal_context(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift workflow/activity identifiers out of the SDK's logging extras into the event."""
    record = event.get("_record")
    for extra in ("temporal_workflow", "temporal_activity"):
        info = event.pop(extra, None)
        if info is None and isinstance(record, logging.LogRecord):
            info = getattr(record, extra, None)
        if isinstance(info, Mapping):
            for key, field in _LIFTED.items():
                if key in info and field not in event:
                    event[field] = info[key]
    return event


def configure_logging(
    level: str = "info", log_format: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Route structlog and standard logging to `stream` (stdout) in one format."""
    out = stream if stream is not None else sys.stdout
    as_json = log_format == "json" or (log_format == "auto" and not out.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        temporal_context,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else _keep,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler: a second call (tests, `civicflow dev`) must not stack
    # handlers, and handlers others installed (pytest's capture) stay.
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The identifiers become fields (see `temporal_context`); repeating them in the message
    # would only make lines longer and harder to search.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


def _keep(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The console renderer formats exceptions itself; leave them as they are."""
    return event


class Metrics:
    """Counters, gauges and histograms civicflow reports under the `civicflow_` prefix.

    Each instance registers its metrics in the registry it is given, so tests pass a fresh
    `CollectorRegistry` and never touch the process-global one.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.build_info = Gauge(
            "civicflow_build_info",
            "Always 1; labels name the running version.",
            ["version"],
            registry=reg,
        )
        self.build_info.labels(version=_version()).set(1)
        self.procedures_started = Counter(
            "civicflow_procedures_started",
            "Procedures whose start was recorded.",
            registry=reg,
        )
        self.statements_received = Counter(
            "civicflow_statements_received",
            "Statements (Stellungnahmen) accepted and stored, late ones included.",
            registry=reg,
        )
        self.activity_failures = Counter(
            "civicflow_activity_failures",
            "Activity attempts that raised, by activity type.",
            ["activity_type"],
            registry=reg,
        )
        self.activity_duration = Histogram(
            "civicflow_activity_duration_seconds",
            "Wall time of activity attempts, by activity type.",
            ["activity_type"],
            registry=reg,
        )
        self.procedures_by_phase = Gauge(
            "civicflow_procedures_by_phase",
            "Running procedures on this worker's task queue by definition kind and phase, "
            "counted from Temporal visibility (worker/phase_gauge.py).",
            ["kind", "phase"],
            registry=reg,
        )
        self.outbox_incidents = Gauge(
            "civicflow_outbox_incidents",
            "Outbox entries that exhausted their retries and wait for an operator.",
            registry=reg,
        )


def _version() -> str:
    try:
        return metadata.version("civicflow")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "unknown"


class TelemetryInterceptor(Interceptor):
    """Binds activity identity into structlog's contextvars and counts activity outcomes."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityTelemetry(next, self._metrics)


class _ActivityTelemetry(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: Metrics) -> None:
        super().__init__(next)
        self._metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        # Each activity attempt runs in its own task, so these bindings stay with it.
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            workflow_type=info.workflow_type,
            activity_type=info.activity_type,
            activity_id=info.activity_id,
            attempt=info.attempt,
        ):
            started = time.monotonic()
            try:
                return await self.next.execute_activity(input)
            except Exception:
                self._metrics.activity_failures.labels(activity_type=info.activity_type).inc()
                raise
            finally:
                self._metrics.activity_duration.labels(activity_type=info.activity_type).observe(
                    time.monotonic() - started
                )
