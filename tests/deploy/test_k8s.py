"""deploy/k8s: worker manifests, kustomizations and the Temporal Helm values."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.files import (
    DEPLOY,
    dockerfile_image,
    image_tag,
    is_pinned,
    k8s_documents,
    load_yaml,
    project_version,
)

K8S = DEPLOY / "k8s"
BASE = K8S / "base"


def objects(folder: Path) -> dict[str, dict[str, Any]]:
    """Objects of `folder` by kind (one of each kind is what the worker has, but claims)."""
    found: dict[str, dict[str, Any]] = {}
    for path, doc in k8s_documents(folder):
        if doc.get("kind") in {"Kustomization", "Component", "PersistentVolumeClaim"}:
            continue
        if "components" in path.relative_to(folder).parts:
            continue  # patches, checked separately
        assert doc["kind"] not in found, f"two {doc['kind']} objects in {folder}"
        found[doc["kind"]] = doc
    return found


BASE_OBJECTS = objects(BASE)
DEPLOYMENT = BASE_OBJECTS["Deployment"]
POD = DEPLOYMENT["spec"]["template"]
(WORKER,) = POD["spec"]["containers"]
CONFIG = BASE_OBJECTS["ConfigMap"]["data"]
(JOB,) = [doc for _, doc in k8s_documents(K8S / "migrate")]
CRONJOB = BASE_OBJECTS["CronJob"]
CLAIMS = {
    doc["metadata"]["name"]: doc
    for _, doc in k8s_documents(BASE)
    if doc.get("kind") == "PersistentVolumeClaim"
}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_the_base_has_every_object_the_worker_needs() -> None:
    assert {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "ConfigMap",
        "ServiceAccount",
        "CronJob",
    } <= set(BASE_OBJECTS)


def test_no_secret_values_only_references() -> None:
    for path, doc in k8s_documents(K8S):
        assert doc.get("kind") != "Secret", f"{path} contains a Secret; reference it instead"


@pytest.mark.parametrize(
    "doc",
    [DEPLOYMENT, JOB, CRONJOB["spec"]["jobTemplate"]],
    ids=["worker", "migrate", "purge-addresses"],
)
def test_resources_and_security_context(doc: dict[str, Any]) -> None:
    pod = doc["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    uid = pod["securityContext"]["runAsUser"]
    dockerfile_user = re.search(r"^USER (\d+)", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert dockerfile_user is not None
    assert uid == int(dockerfile_user.group(1))
    assert pod["automountServiceAccountToken"] is False
    for container in containers(doc):
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (kind, container["name"])
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        # A read-only root needs a writable /tmp.
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert "/tmp" in mounts  # noqa: S108 (an emptyDir in the pod, not a shared /tmp)


def test_probes_hit_the_metrics_endpoint_on_the_configured_port() -> None:
    ports = {port["name"]: port["containerPort"] for port in WORKER["ports"]}
    assert ports["metrics"] == int(CONFIG["CIVICFLOW_METRICS_PORT"])
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = WORKER[probe]["httpGet"]
        assert (get["path"], get["port"]) == ("/metrics", "metrics"), probe


def test_drain_outlasts_the_shutdown_grace() -> None:
    grace = float(CONFIG["CIVICFLOW_SHUTDOWN_GRACE_SECONDS"])
    assert POD["spec"]["terminationGracePeriodSeconds"] > grace
    rolling = DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0


def test_selectors_of_service_pdb_and_servicemonitor_match_the_pods() -> None:
    pod_labels = POD["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    pdb = BASE_OBJECTS["PodDisruptionBudget"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"] == DEPLOYMENT["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["minAvailable"] < DEPLOYMENT["spec"]["replicas"]
    service = BASE_OBJECTS["Service"]
    assert matches(service["spec"]["selector"], pod_labels)
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == "metrics"
    monitor = BASE_OBJECTS["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [service_port["name"]]
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
    # The job name alerts and dashboard select on, whatever the Service is called.
    prometheus = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]}
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    assert job == "civicflow-worker"
    assert job in jobs


def test_hpa_scales_the_deployment_on_cpu() -> None:
    hpa = BASE_OBJECTS["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "Deployment",
        DEPLOYMENT["metadata"]["name"],
    )
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_settings_come_from_the_configmap_and_secret_references() -> None:
    from activities.selection.settings import SelectionSettings
    from worker.config import Settings

    known = {f"CIVICFLOW_{field.upper()}" for field in Settings.model_fields}
    known |= {f"CIVICFLOW_SELECTION_{field.upper()}" for field in SelectionSettings.model_fields}
    assert set(CONFIG) <= known, set(CONFIG) - known
    assert WORKER["envFrom"] == [
        {"configMapRef": {"name": BASE_OBJECTS["ConfigMap"]["metadata"]["name"]}},
        {"secretRef": {"name": "civicflow-worker-secrets", "optional": True}},
    ]
    env = {item["name"]: item for item in WORKER["env"]}
    assert env["CIVICFLOW_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "civicflow-database",
        "key": "url",
    }
    for item in WORKER["env"]:
        assert item["name"] in known, item["name"]
        assert "value" not in item, (
            f"{item['name']}: a literal value; use the ConfigMap or a Secret"
        )


def mounts_by_claim(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """claim name -> the container's mount of it (and the volume's readOnly as `claimReadOnly`)."""
    spec = pod["spec"]
    (container,) = spec["containers"]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    found: dict[str, dict[str, Any]] = {}
    for volume in spec["volumes"]:
        claim = volume.get("persistentVolumeClaim")
        if claim is not None:
            mount = mounts[volume["name"]]
            found[claim["claimName"]] = {**mount, "claimReadOnly": claim.get("readOnly", False)}
    return found


def test_selection_folders_are_shared_claims_data_read_only() -> None:
    assert set(CLAIMS) == {"civicflow-selection-data", "civicflow-selection-documents"}
    for claim in CLAIMS.values():
        # Every replica may run a draw or a wave: the folders are shared between pods.
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claim["spec"]["resources"]["requests"]["storage"]
    mounts = mounts_by_claim(POD)
    data = mounts["civicflow-selection-data"]
    documents = mounts["civicflow-selection-documents"]
    assert data["mountPath"] == CONFIG["CIVICFLOW_SELECTION_DATA_DIR"]
    assert data["readOnly"] is True
    assert data["claimReadOnly"] is True
    assert documents["mountPath"] == CONFIG["CIVICFLOW_SELECTION_DOCUMENTS_DIR"]
    assert not documents.get("readOnly", False)
    # The non-root worker writes documents through the pod's group.
    assert POD["spec"]["securityContext"]["fsGroup"] == POD["spec"]["securityContext"]["runAsGroup"]


def test_retention_cronjob_purges_address_lists_in_the_workers_documents() -> None:
    pod = CRONJOB["spec"]["jobTemplate"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    args = container["args"]
    assert args[:3] == ["selection", "purge-addresses", "--all"]
    days = int(args[args.index("--older-than") + 1])
    assert 1 <= days <= 90
    assert CRONJOB["spec"]["concurrencyPolicy"] == "Forbid"
    assert container["image"] == WORKER["image"]
    assert container["envFrom"] == [{"configMapRef": {"name": "civicflow-worker"}}]
    env = {item["name"]: item for item in container["env"]}
    assert (
        env["CIVICFLOW_DATABASE_URL"]
        == {item["name"]: item for item in WORKER["env"]}["CIVICFLOW_DATABASE_URL"]
    )
    documents = mounts_by_claim(pod)["civicflow-selection-documents"]
    assert documents["mountPath"] == CONFIG["CIVICFLOW_SELECTION_DOCUMENTS_DIR"]
    assert not documents.get("readOnly", False)
    assert "civicflow-selection-data" not in mounts_by_claim(pod)  # it never reads extracts


def component_patch(name: str) -> dict[str, Any]:
    kustomization = load_yaml(BASE / "components" / name / "kustomization.yaml")
    assert kustomization["kind"] == "Component"
    (patch,) = kustomization["patches"]
    assert patch["target"] == {"kind": "Deployment", "name": DEPLOYMENT["metadata"]["name"]}
    patched: dict[str, Any] = load_yaml(BASE / "components" / name / patch["path"])
    return patched


def test_mtls_component_mounts_the_certificate_secret_where_the_settings_point() -> None:
    spec = component_patch("temporal-mtls")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["name"] == WORKER["name"]
    env = {item["name"]: item["value"] for item in container["env"]}
    (mount,) = container["volumeMounts"]
    (volume,) = spec["volumes"]
    assert volume["name"] == mount["name"]
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == "civicflow-temporal-tls"
    assert env == {
        "CIVICFLOW_TEMPORAL_TLS_CERT": f"{mount['mountPath']}/tls.crt",
        "CIVICFLOW_TEMPORAL_TLS_KEY": f"{mount['mountPath']}/tls.key",
        "CIVICFLOW_TEMPORAL_TLS_CA": f"{mount['mountPath']}/ca.crt",
    }


def test_api_key_component_reads_the_key_from_a_secret() -> None:
    (container,) = component_patch("temporal-api-key")["spec"]["template"]["spec"]["containers"]
    (item,) = container["env"]
    assert item["name"] == "CIVICFLOW_TEMPORAL_API_KEY"
    assert item["valueFrom"]["secretKeyRef"] == {"name": "civicflow-temporal", "key": "api-key"}


def test_exactly_one_temporal_auth_component_is_enabled() -> None:
    components = load_yaml(BASE / "kustomization.yaml")["components"]
    assert [name for name in components if "temporal-" in name] == ["components/temporal-mtls"]
    assert "components/payload-encryption" in components  # tests/deploy/test_codec_server.py


def test_migration_job_runs_migrate_with_the_workers_image_and_schema() -> None:
    (container,) = JOB["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert container["image"] == WORKER["image"]
    env = {item["name"]: item for item in container["env"]}
    assert env["CIVICFLOW_DATABASE_SCHEMA"]["value"] == CONFIG["CIVICFLOW_DATABASE_SCHEMA"]
    assert env["CIVICFLOW_DATABASE_URL"] == {
        "name": "CIVICFLOW_DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "civicflow-database", "key": "url"}},
    }
    assert JOB["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Jobs are immutable: one per release, named after the version.
    assert JOB["metadata"]["name"] == "civicflow-migrate-" + project_version().replace(".", "-")


def test_images_are_the_dockerfiles_and_pinned_in_every_kustomization() -> None:
    repo, tag = image_tag(dockerfile_image())
    assert WORKER["image"] == dockerfile_image()
    for folder in (BASE, K8S / "migrate"):
        (entry,) = load_yaml(folder / "kustomization.yaml")["images"]
        assert entry["name"] == repo
        assert entry["newTag"] == tag
    for path, doc in k8s_documents(K8S):
        if doc.get("kind") in {"Deployment", "Job"} and "components" not in path.parts:
            for container in containers(doc):
                assert is_pinned(container["image"]), f"{path}: {container['image']}"


def test_temporal_values_pin_images_and_size_for_a_land() -> None:
    text = (K8S / "temporal-values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    server = values["server"]
    shards = server["config"]["persistence"]["numHistoryShards"]
    assert shards >= 512
    assert shards & (shards - 1) == 0, "a power of two, so shards spread evenly"
    assert "CANNOT BE CHANGED" in text.upper()
    for image in (server["image"], values["admintools"]["image"], values["web"]["image"]):
        assert is_pinned(f"{image['repository']}:{image['tag']}"), image
    for service in ("frontend", "history", "matching"):
        assert server[service]["replicaCount"] >= 3, service
        assert server[service]["podDisruptionBudget"]["minAvailable"] >= 2
        assert {"cpu", "memory"} <= set(server[service]["resources"]["requests"])
    for store in ("default", "visibility"):
        sql = server["config"]["persistence"]["datastores"][store]["sql"]
        assert sql["pluginName"] == "postgres12"
        assert sql["existingSecret"]
        assert "password" not in sql
    assert server["tls"]["frontend"]["requireClientAuth"] is True


def test_no_latest_tag_anywhere_under_k8s() -> None:
    for path in K8S.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(image:|tag:|newTag:)\s*\"?latest\b", text), path
        assert not re.search(r"image:\s*[^\s:]+\s*$", text, re.M), f"{path}: image without tag"


KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl (kustomize) not installed")


def render(folder: Path) -> list[dict[str, Any]]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@needs_kubectl
def test_kustomize_renders_the_base_with_mtls_and_the_registry_image() -> None:
    docs = {doc["kind"]: doc for doc in render(BASE)}
    assert all(doc["metadata"]["namespace"] == "civicflow" for doc in docs.values())
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"registry.example.org/civicflow/civicflow:{project_version()}"
    env = {item["name"] for item in container["env"]}
    assert {"CIVICFLOW_DATABASE_URL", "CIVICFLOW_TEMPORAL_TLS_CERT"} <= env
    (job,) = render(K8S / "migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == container["image"]


@needs_kubectl
def test_kustomize_tenant_overlay_isolates_selectors_and_settings() -> None:
    rendered = render(K8S / "tenants" / "example")
    docs = {doc["kind"]: doc for doc in rendered}
    tenant = {"civicflow.de/tenant": "ags08221000"}
    for doc in docs.values():
        assert doc["metadata"]["name"].endswith("-ags08221000"), doc["kind"]
    deployment = docs["Deployment"]
    assert tenant.items() <= deployment["spec"]["selector"]["matchLabels"].items()
    assert tenant.items() <= docs["Service"]["spec"]["selector"].items()
    assert tenant.items() <= docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items()
    assert tenant.items() <= docs["ServiceMonitor"]["spec"]["selector"]["matchLabels"].items()
    job_label = docs["ServiceMonitor"]["spec"]["jobLabel"]
    assert docs["Service"]["metadata"]["labels"][job_label] == "civicflow-worker"
    assert (
        docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == (deployment["metadata"]["name"])
    )
    data = docs["ConfigMap"]["data"]
    assert data["CIVICFLOW_TEMPORAL_NAMESPACE"] == "ags08221000"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"][0]["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    env = {item["name"]: item for item in container["env"]}
    # Every secret the tenant's worker reads is the tenant's own.
    assert env["CIVICFLOW_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == (
        "civicflow-database-ags08221000"
    )
    assert container["envFrom"][1]["secretRef"]["name"] == "civicflow-worker-secrets-ags08221000"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["temporal-tls"]["secret"]["secretName"] == "civicflow-temporal-tls-ags08221000"
    assert volumes["temporal-tls"]["secret"]["defaultMode"] == 0o440
    # Each tenant has its own selection folders and its retention sweep its own database.
    claims = {doc["metadata"]["name"] for doc in rendered if doc["kind"] == "PersistentVolumeClaim"}
    assert claims == {
        "civicflow-selection-data-ags08221000",
        "civicflow-selection-documents-ags08221000",
    }
    assert set(mounts_by_claim(deployment["spec"]["template"])) == claims
    sweep = docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    assert set(mounts_by_claim(sweep)) == {"civicflow-selection-documents-ags08221000"}
    (purge,) = sweep["spec"]["containers"]
    assert purge["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "civicflow-database-ags08221000"
    assert purge["envFrom"][0]["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
