"""How settings become a Temporal connection: TLS choice, and the pydantic converter."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from worker.client import connect, tls_config
from worker.config import load_settings


def test_plain_connection_without_tls_settings() -> None:
    assert tls_config(load_settings()) is False


def test_api_key_alone_means_server_tls() -> None:
    assert tls_config(load_settings(temporal_api_key="k-123")) is True


def test_mtls_reads_certificate_files(tmp_path: Path) -> None:
    files = {}
    for name in ("cert", "key", "ca"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(f"-----{name}-----".encode())
    config = tls_config(
        load_settings(
            temporal_tls_cert=files["cert"],
            temporal_tls_key=files["key"],
            temporal_tls_ca=files["ca"],
        )
    )
    assert isinstance(config, TLSConfig)
    assert config.client_cert == b"-----cert-----"
    assert config.client_private_key == b"-----key-----"
    assert config.server_root_ca_cert == b"-----ca-----"


async def test_connect_uses_pydantic_converter(dev_env: WorkflowEnvironment) -> None:
    target = dev_env.client.service_client.config.target_host
    client = await connect(load_settings(temporal_address=target))
    assert client.data_converter is pydantic_data_converter
    assert client.namespace == "default"
