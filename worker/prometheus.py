"""One Prometheus endpoint for both the Temporal SDK's metrics and civicflow's own.

The SDK's exporter lives in Rust Core and can only serve its own registry, on the address it
is given. So Core binds an internal loopback port, and our endpoint (on the configured port)
answers each scrape with civicflow's registry followed by Core's text, fetched at scrape time.
Both are Prometheus text format 0.0.4; their metric names never collide (`civicflow_` vs
`temporal_`). If Core's exporter does not answer, the scrape still succeeds with our metrics
and `civicflow_sdk_metrics_up 0`, so a dashboard shows the gap instead of a failed target.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

__all__ = ["MetricsEndpoint", "PortInUseError", "create_runtime", "loopback_free_port"]

_SDK_FETCH_TIMEOUT = 2.0


class PortInUseError(OSError):
    """The metrics port is taken by another process."""


def loopback_free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for Core's internal exporter)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_runtime(sdk_metrics_port: int | None) -> Runtime:
    """A Temporal Runtime that forwards Core's logs to Python logging, with Prometheus if asked.

    Create one per process: each Runtime owns a thread pool and, here, an HTTP listener.
    """
    import logging

    telemetry = TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        ),
        metrics=None
        if sdk_metrics_port is None
        else PrometheusConfig(
            bind_address=f"127.0.0.1:{sdk_metrics_port}",
            counters_total_suffix=True,
            durations_as_seconds=True,
        ),
    )
    return Runtime(telemetry=telemetry)


class MetricsEndpoint:
    """Serves `/metrics` on `host:port`: our registry, then the SDK's exposition."""

    def __init__(
        self, registry: CollectorRegistry, host: str, port: int, sdk_url: str | None
    ) -> None:
        self._registry = registry
        self._sdk_url = sdk_url
        self._sdk_up = _sdk_up_gauge()
        try:
            self._server = ThreadingHTTPServer((host, port), self._handler_class())
        except OSError as err:
            msg = f"metrics port {port} on {host} is already in use or not bindable: {err}"
            raise PortInUseError(msg) from err
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="civicflow-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # `shutdown` waits for `serve_forever` to return, so it would hang if never started.
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def render(self) -> bytes:
        """One scrape's body."""
        ours = generate_latest(self._registry)
        sdk = b""
        up = 0
        if self._sdk_url is not None:
            try:
                with urllib.request.urlopen(self._sdk_url, timeout=_SDK_FETCH_TIMEOUT) as resp:  # noqa: S310  (fixed http://127.0.0.1 URL of our own Core exporter)
                    sdk = resp.read()
                up = 1
            except OSError:
                up = 0
        if sdk and not sdk.endswith(b"\n"):
            sdk += b"\n"
        return ours + self._sdk_up.format(up=up).encode() + sdk

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                    self.send_error(404, "metrics are at /metrics")
                    return
                body = endpoint.render()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Scrapes every few seconds would drown the worker's own logs."""

        return Handler


def _sdk_up_gauge() -> str:
    return (
        "# HELP civicflow_sdk_metrics_up 1 if the Temporal SDK's metrics were included.\n"
        "# TYPE civicflow_sdk_metrics_up gauge\n"
        "civicflow_sdk_metrics_up {up}\n"
    )
