"""Prometheus scrape config, alert rules and the Grafana dashboard."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.files import DEPLOY, compose, load_yaml, yaml_files

# civicflow's own metrics, as worker/telemetry.py and worker/prometheus.py export them
# (counters with their `_total`, histograms by base name).
CIVICFLOW_METRICS = {
    "civicflow_build_info",
    "civicflow_procedures_started_total",
    "civicflow_statements_received_total",
    "civicflow_activity_failures_total",
    "civicflow_activity_duration_seconds",
    "civicflow_outbox_incidents",
    "civicflow_procedures_by_phase",
    "civicflow_sdk_metrics_up",
}
# The Temporal SDK's (Core's) metrics with counters_total_suffix and durations_as_seconds,
# as the worker configures them (worker/prometheus.py); names observed from temporalio 1.35,
# failure counters from sdk-core's metric definitions.
SDK_METRICS = {
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_workflow_task_execution_latency",
    "temporal_workflow_task_execution_failed_total",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_activity_execution_failed_total",
    "temporal_workflow_completed_total",
    "temporal_workflow_failed_total",
    "temporal_worker_task_slots_available",
    "temporal_num_pollers",
}
PROMETHEUS_BUILTINS = {"up"}
KNOWN = CIVICFLOW_METRICS | SDK_METRICS | PROMETHEUS_BUILTINS

RULES = load_yaml(DEPLOY / "prometheus" / "alerts.yaml")
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"]]
DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "civicflow.json").read_text())
RUNBOOK = (DEPLOY / "RUNBOOK.md").read_text(encoding="utf-8")

_FUNCTIONS = {
    "sum", "max", "min", "avg", "rate", "increase", "histogram_quantile", "absent", "by",
    "without", "or", "and", "unless", "le", "on", "ignoring", "count",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers and strings removed)."""
    bare = re.sub(r"\{[^}]*\}", "", re.sub(r'"[^"]*"', "", expr))
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b", bare)) - _FUNCTIONS
    names = {name for name in names if not re.fullmatch(r"\d.*|e\d+", name)}
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


def balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"[^"]*"', "", expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def test_metric_name_extraction() -> None:
    quantile = (
        "histogram_quantile(0.95, sum by (le, task_queue)"
        ' (rate(temporal_x_bucket{job="a"}[5m]))) > 2'
    )
    assert metric_names(quantile) == {"temporal_x"}
    assert metric_names('sum(up{job="w"}) == 0 or absent(up{job="w"})') == {"up"}


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert docs
    assert all(doc is not None for doc in docs)


def test_prometheus_scrapes_every_worker_replica_and_the_server() -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = compose()["services"]
    worker_port = int(services["worker"]["environment"]["CIVICFLOW_METRICS_PORT"])
    (dns,) = jobs["civicflow-worker"]["dns_sd_configs"]
    assert dns["names"] == ["worker"]
    assert dns["port"] == worker_port
    server_port = services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"].rsplit(":", 1)[1]
    assert jobs["temporal-server"]["static_configs"][0]["targets"] == [f"temporal:{server_port}"]
    # The rule file is loaded from the folder compose mounts.
    mounts = dict(volume.split(":")[:2] for volume in services["prometheus"]["volumes"])
    (rule_file,) = config["rule_files"]
    mounted = Path(mounts["./prometheus"])
    assert (DEPLOY / "prometheus" / Path(rule_file).relative_to(mounted)).is_file()


def test_alert_rules_are_complete() -> None:
    names = [rule["alert"] for rule in ALERTS]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert len(names) >= 8
    for rule in ALERTS:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert balanced(rule["expr"]), rule["alert"]
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["runbook"] == f"deploy/RUNBOOK.md#{rule['alert'].lower()}"


def test_every_alert_has_a_runbook_section_and_every_section_an_alert() -> None:
    alerts = {rule["alert"] for rule in ALERTS}
    section = RUNBOOK.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    headings = set(re.findall(r"^### (\S+)$", section, re.MULTILINE))
    assert headings == alerts


def test_alerts_and_dashboard_use_only_known_metrics() -> None:
    expressions = [rule["expr"] for rule in ALERTS] + [
        target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]
    ]
    used = set().union(*(metric_names(expr) for expr in expressions))
    assert used <= KNOWN, f"unknown metric names: {used - KNOWN}"
    for expr in expressions:
        assert balanced(expr), expr


def test_dashboard_has_the_required_panels_on_the_provisioned_datasource() -> None:
    titles = {panel["title"] for panel in DASHBOARD["panels"]}
    assert {
        "Procedures by phase",
        "Statement intake rate",
        "Activity failures",
        "Schedule-to-start latency (p95)",
        "Outbox incidents",
    } <= titles
    (source,) = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")[
        "datasources"
    ]
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"]["uid"] == source["uid"] for target in panel["targets"])
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "civicflow.yaml")
    mounts = dict(volume.split(":")[:2] for volume in compose()["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == providers["providers"][0]["options"]["path"]


def metrics_class() -> Any:
    """civicflow's `Metrics` (it has lived in worker.telemetry and in activities.metrics)."""
    for module_name in ("worker.telemetry", "activities.metrics"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, "Metrics"):
            return module.Metrics
    pytest.skip("no Metrics class in worker.telemetry or activities.metrics")


def test_civicflow_metrics_are_really_exported() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    instance: Any = metrics_class()(registry)
    instance.activity_duration.labels(activity_type="x").observe(0.1)
    instance.activity_failures.labels(activity_type="x").inc()
    instance.procedures_by_phase.labels(kind="bauleitplanung", phase="hearing").set(2)
    text = generate_latest(registry).decode()
    exported = {
        re.sub(r"_(bucket|count|sum|created)$", "", line.split("{")[0].split(" ")[0])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    prometheus = pytest.importorskip("worker.prometheus")
    assert "civicflow_sdk_metrics_up" in inspect.getsource(prometheus)
    exported.add("civicflow_sdk_metrics_up")
    assert exported >= CIVICFLOW_METRICS, CIVICFLOW_METRICS - exported


def test_procedures_by_phase_panel_queries_the_exported_gauge_by_its_labels() -> None:
    """The panel reads the gauge worker/phase_gauge.py exports, by the labels it carries."""
    (panel,) = [p for p in DASHBOARD["panels"] if p["title"] == "Procedures by phase"]
    (target,) = panel["targets"]
    assert metric_names(target["expr"]) == {"civicflow_procedures_by_phase"}
    # every replica exports the same counts: max, never sum
    assert target["expr"].replace(" ", "").startswith("maxby(kind,phase)(")
    assert set(re.findall(r"\{\{(\w+)\}\}", target["legendFormat"])) == {"kind", "phase"}
    from prometheus_client import CollectorRegistry

    instance: Any = metrics_class()(CollectorRegistry())
    assert instance.procedures_by_phase._labelnames == ("kind", "phase")
