"""The codec server in deploy/: compose service, Kubernetes manifests, the Web UI's codec
endpoint, the payload keys as a secret file (made by deploy/tools/new-payload-key.sh), and the
compose environment run for real: `civicflow codec-server` with it answers the health check and
the UI's origin over HTTP."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from tests.deploy.files import DEPLOY, ROOT, dockerfile_image, k8s_documents, load_yaml
from tests.deploy.test_compose import SECRETS, needs_compose, services
from tests.deploy.test_k8s import WORKER, component_patch, needs_kubectl, render
from worker.client import payload_codec
from worker.codec import EncryptionCodec, parse_payload_keys
from worker.codec_server import CodecServerSettings
from worker.config import load_settings

K8S_CODEC = DEPLOY / "k8s" / "codec-server"
KEY_SCRIPT = DEPLOY / "tools" / "new-payload-key.sh"
_WITHIN = 60.0


def with_defaults(value: str) -> str:
    """A compose value with every `${VAR:-default}` replaced by its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def codec_service() -> dict[str, Any]:
    found: dict[str, Any] = services()["codec-server"]
    return found


def published(service: dict[str, Any], target: int) -> tuple[str, int]:
    """(host address, host port) a service publishes `target` on."""
    for entry in service["ports"]:
        host, port, container = entry.split(":")  # the long form, always bound to an address
        if int(container) == target:
            return host, int(port)
    msg = f"port {target} is not published"
    raise AssertionError(msg)


def make_key_file(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(KEY_SCRIPT), str(target)],
        capture_output=True,
        text=True,
        timeout=_WITHIN,
        check=False,
    )


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment without any CIVICFLOW_* setting, so only the test's own apply."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIVICFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# compose


def test_codec_server_runs_the_workers_image_with_its_command() -> None:
    service = codec_service()
    assert service["image"] == dockerfile_image()
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert service["command"] == ["codec-server"]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]


def test_codec_server_and_workers_read_the_same_keys_file() -> None:
    worker, codec = services()["worker"], codec_service()
    assert worker["secrets"] == codec["secrets"] == ["payload_keys"]
    for service in (worker, codec):
        env = service["environment"]
        assert env["CIVICFLOW_PAYLOAD_KEYS_FILE"] == "/run/secrets/payload_keys"
        assert env["CIVICFLOW_PAYLOAD_KEY_ID"] == "${CIVICFLOW_PAYLOAD_KEY_ID:-}"
        assert "CIVICFLOW_PAYLOAD_KEYS" not in env, "keys as a file, never a variable"
    # The codec server needs the keys only: no database credentials, no worker secrets.
    assert not any("DATABASE" in name for name in codec["environment"])
    assert "env_file" not in codec
    source = load_yaml(DEPLOY / "compose.yaml")["secrets"]["payload_keys"]["file"]
    default = Path(with_defaults(source))
    assert default.parts[:2] == (".", "secrets") or default.parts[0] == "secrets"
    gitignore = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert "secrets/" in gitignore, "the keys file is never committed"


def test_codec_server_settings_are_real_and_answer_the_web_ui() -> None:
    env = {key: with_defaults(value) for key, value in codec_service()["environment"].items()}
    known = {
        f"CIVICFLOW_CODEC_SERVER_{field.upper()}" for field in CodecServerSettings.model_fields
    }
    known |= {"CIVICFLOW_PAYLOAD_KEYS_FILE", "CIVICFLOW_PAYLOAD_KEY_ID", "CIVICFLOW_LOG_FORMAT"}
    assert set(env) <= known, set(env) - known
    port = int(env["CIVICFLOW_CODEC_SERVER_PORT"])
    host, host_port = published(codec_service(), port)
    assert host == "127.0.0.1", "loopback only, like the Web UI"
    ui = services()["temporal-ui"]
    ui_host, ui_port = published(ui, 8080)
    # The UI's browser-side origin is allowed, and the UI points the browser at this server.
    origins = CodecServerSettings(cors_origins=env["CIVICFLOW_CODEC_SERVER_CORS_ORIGINS"]).origins
    assert f"http://{ui_host}:{ui_port}" in origins
    assert with_defaults(ui["environment"]["TEMPORAL_CODEC_ENDPOINT"]) == (
        f"http://{host}:{host_port}"
    )


def test_codec_server_health_check_asks_healthz_on_its_port() -> None:
    check = codec_service()["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"]
    url = re.search(r"'(http://[^']+)'", check["test"][3])
    assert url is not None
    parts = urlsplit(url.group(1))
    assert parts.path == "/healthz"
    assert parts.port == int(codec_service()["environment"]["CIVICFLOW_CODEC_SERVER_PORT"])


def compose_rendered(extra_env: dict[str, str]) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key not in SECRETS}
    env.update({name: "test-only-value" for name in SECRETS}, **extra_env)
    result = subprocess.run(
        [
            "docker",
            "compose",
            "--env-file",
            str(DEPLOY / ".env.example"),
            "-f",
            str(DEPLOY / "compose.yaml"),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
        cwd=DEPLOY.parent,
    )
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = yaml.safe_load(result.stdout)
    return rendered


@needs_compose
def test_docker_compose_renders_the_codec_server_and_the_ui_endpoint() -> None:
    rendered = compose_rendered({})
    codec = rendered["services"]["codec-server"]
    assert codec["command"] == ["codec-server"]
    assert codec["secrets"] == [{"source": "payload_keys", "target": "/run/secrets/payload_keys"}]
    assert codec["environment"]["CIVICFLOW_PAYLOAD_KEY_ID"] == ""
    ui = rendered["services"]["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "http://127.0.0.1:8081"
    assert rendered["secrets"]["payload_keys"]["file"] == str(DEPLOY / "secrets" / "payload-keys")
    # A rotation's current key id and a proxy's URLs come from deploy/.env.
    rotated = compose_rendered(
        {
            "CIVICFLOW_PAYLOAD_KEY_ID": "k2027a",
            "TEMPORAL_CODEC_ENDPOINT": "https://codec.example.org",
            "CIVICFLOW_CODEC_SERVER_CORS_ORIGINS": "https://temporal.example.org",
        }
    )
    for name in ("worker", "codec-server"):
        assert rotated["services"][name]["environment"]["CIVICFLOW_PAYLOAD_KEY_ID"] == "k2027a"
    assert rotated["services"]["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"] == (
        "https://codec.example.org"
    )
    assert rotated["services"]["codec-server"]["environment"][
        "CIVICFLOW_CODEC_SERVER_CORS_ORIGINS"
    ] == ("https://temporal.example.org")


# the keys file


def test_key_script_makes_a_readable_key_file_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "payload-keys"
    made = make_key_file(target)
    assert made.returncode == 0, made.stderr
    text = target.read_text(encoding="utf-8")
    (key_id,) = parse_payload_keys(text)
    assert re.fullmatch(r"k\d{4}a", key_id)
    assert text.partition(":")[2].strip() not in made.stdout + made.stderr
    info = target.stat()
    if os.geteuid() == 0:
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (10001, 0o400)
    else:
        assert stat.S_IMODE(info.st_mode) == 0o444
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    again = make_key_file(target)
    assert again.returncode == 1
    assert "not overwritten" in again.stderr
    assert target.read_text(encoding="utf-8") == text


def test_the_key_file_with_composes_environment_makes_the_workers_codec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "secrets" / "payload-keys"
    assert make_key_file(target).returncode == 0
    for name in list(os.environ):
        if name.startswith("CIVICFLOW_"):
            monkeypatch.delenv(name)
    env = services()["worker"]["environment"]
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS_FILE", str(target))
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEY_ID", with_defaults(env["CIVICFLOW_PAYLOAD_KEY_ID"]))
    codec = payload_codec(load_settings())
    assert codec is not None
    assert codec.key_ids == tuple(parse_payload_keys(target.read_text(encoding="utf-8")))


@pytest.mark.integration
async def test_codec_server_with_composes_environment_serves_the_ui(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """The service's environment, with only the key path (a real file from the script) and the
    listening address (loopback, any free port) changed."""
    target = tmp_path / "secrets" / "payload-keys"
    assert make_key_file(target).returncode == 0
    keys = parse_payload_keys(target.read_text(encoding="utf-8"))
    env = {
        **clean_env,
        **{key: with_defaults(value) for key, value in codec_service()["environment"].items()},
        "CIVICFLOW_PAYLOAD_KEYS_FILE": str(target),
        "CIVICFLOW_CODEC_SERVER_HOST": "127.0.0.1",
        "CIVICFLOW_CODEC_SERVER_PORT": "0",
    }
    exe = Path(sys.executable).parent / "civicflow"
    proc = await asyncio.create_subprocess_exec(
        str(exe),
        *codec_service()["command"],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout=_WITHIN)).decode()
            assert line, "codec-server exited before serving"
            found = re.search(r"serving (http://\S+) ", line)
            url = found.group(1) if found else None
        health = urlsplit(
            re.findall(r"'(http://[^']+)'", codec_service()["healthcheck"]["test"][3])[0]
        )
        ui_host, ui_port = published(services()["temporal-ui"], 8080)
        origin = f"http://{ui_host}:{ui_port}"
        ((key_id, key),) = keys.items()
        plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"Erika"')
        encrypted = await EncryptionCodec(keys, key_id).encode([plain])
        async with httpx.AsyncClient(base_url=url, timeout=_WITHIN) as http:
            healthy = await http.get(health.path)
            decoded = await http.post(
                "/decode",
                json=json_format.MessageToDict(Payloads(payloads=encrypted)),
                headers={"Origin": origin, "X-Namespace": "default"},
            )
        assert healthy.status_code == 200
        assert decoded.status_code == 200, decoded.text
        assert decoded.headers["access-control-allow-origin"] == origin
        assert list(json_format.Parse(decoded.content, Payloads()).payloads) == [plain]
        proc.terminate()
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=_WITHIN)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert base64.b64encode(key) not in stdout + stderr


# Kubernetes


def codec_objects() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for _, doc in k8s_documents(K8S_CODEC)}


def test_k8s_codec_server_has_its_objects() -> None:
    assert set(codec_objects()) == {"ConfigMap", "Deployment", "Service", "NetworkPolicy"}
    kustomization = load_yaml(K8S_CODEC / "kustomization.yaml")
    assert (
        kustomization["namespace"]
        == load_yaml(DEPLOY / "k8s" / "base" / "kustomization.yaml")["namespace"]
    )
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in K8S_CODEC.glob("*.yaml") if path.name != "kustomization.yaml"
    )


def test_k8s_codec_server_pod_is_locked_down_and_probed_on_healthz() -> None:
    objects = codec_objects()
    pod = objects["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == WORKER["image"]
    assert container["args"] == ["codec-server"]
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    assert pod["spec"]["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    config = objects["ConfigMap"]["data"]
    (port,) = container["ports"]
    assert port["containerPort"] == int(config["CIVICFLOW_CODEC_SERVER_PORT"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    labels = pod["metadata"]["labels"]
    service = objects["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] == port["name"]
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert [rule["ports"] for rule in policy["ingress"]] == [[{"port": "http", "protocol": "TCP"}]]
    # The worker's labels are not matched: the worker's Service never reaches the codec server.
    assert labels["app.kubernetes.io/component"] != "worker"


def test_k8s_codec_server_settings_are_real() -> None:
    objects = codec_objects()
    config = objects["ConfigMap"]["data"]
    known = {
        f"CIVICFLOW_CODEC_SERVER_{field.upper()}" for field in CodecServerSettings.model_fields
    }
    assert set(config) <= known | {"CIVICFLOW_LOG_FORMAT", "CIVICFLOW_PAYLOAD_KEY_ID"}
    settings = CodecServerSettings(
        host=config["CIVICFLOW_CODEC_SERVER_HOST"],
        cors_origins=config["CIVICFLOW_CODEC_SERVER_CORS_ORIGINS"],
    )
    assert all(origin.startswith("https://") for origin in settings.origins)
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [
        {"configMapRef": {"name": objects["ConfigMap"]["metadata"]["name"]}}
    ]


def keys_file(spec: dict[str, Any], container: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the path CIVICFLOW_PAYLOAD_KEYS_FILE names, the secret volume that provides it)."""
    env = {item["name"]: item for item in container["env"]}
    path = env["CIVICFLOW_PAYLOAD_KEYS_FILE"]["value"]
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    folder, _, name = path.rpartition("/")
    mount = mounts[folder]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert [item["path"] for item in volume["secret"]["items"]] == [name]
    return path, volume["secret"]


def test_k8s_worker_and_codec_server_mount_the_same_keys_secret_as_a_file() -> None:
    spec = codec_objects()["Deployment"]["spec"]["template"]["spec"]
    (codec_container,) = spec["containers"]
    codec_path, codec_secret = keys_file(spec, codec_container)
    worker_spec = component_patch("payload-encryption")["spec"]["template"]["spec"]
    (worker_container,) = worker_spec["containers"]
    assert worker_container["name"] == WORKER["name"]
    worker_path, worker_secret = keys_file(worker_spec, worker_container)
    assert codec_secret == worker_secret
    assert codec_secret["secretName"] == "civicflow-payload-keys"
    assert codec_path == worker_path
    for container in (codec_container, worker_container):
        assert "CIVICFLOW_PAYLOAD_KEYS" not in {item["name"] for item in container["env"]}


def test_temporal_web_ui_points_at_the_codec_server() -> None:
    values = load_yaml(DEPLOY / "k8s" / "temporal-values.yaml")
    env = {item["name"]: item["value"] for item in values["web"]["additionalEnv"]}
    endpoint = urlsplit(env["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint.scheme == "https", "browsers call it: TLS, like the UI"
    assert endpoint.path in ("", "/")
    assert env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"


@needs_kubectl
def test_kustomize_renders_the_codec_server_and_the_encrypting_worker() -> None:
    rendered = render(K8S_CODEC)
    assert {doc["metadata"]["namespace"] for doc in rendered} == {"civicflow"}
    (deployment,) = [doc for doc in rendered if doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("registry.example.org/civicflow/civicflow:")
    (worker,) = [doc for doc in render(DEPLOY / "k8s" / "base") if doc["kind"] == "Deployment"]
    (worker_container,) = worker["spec"]["template"]["spec"]["containers"]
    assert worker_container["image"] == container["image"]
    worker_path, worker_secret = keys_file(worker["spec"]["template"]["spec"], worker_container)
    assert (worker_path, worker_secret["secretName"]) == (
        "/etc/civicflow/payload-keys/keys",
        "civicflow-payload-keys",
    )


def test_runbook_and_readme_of_deploy_name_the_codec_server() -> None:
    runbook = (DEPLOY / "RUNBOOK.md").read_text(encoding="utf-8")
    for needle in (
        "deploy/k8s/codec-server",
        "CIVICFLOW_PAYLOAD_KEYS_FILE",
        "deploy/tools/new-payload-key.sh",
        "TEMPORAL_CODEC_ENDPOINT",
    ):
        assert needle in runbook, needle
    assert (ROOT / "deploy" / "tools" / "new-payload-key.sh").stat().st_mode & stat.S_IXUSR
