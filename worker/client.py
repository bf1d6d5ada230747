"""Connect to Temporal the way every civicflow process does: settings in, client out.

The pydantic data converter is not optional: workflow and activity payloads are pydantic
models, and a client without it would send them in a shape the worker cannot read.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from worker.config import Settings

__all__ = ["TemporalUnavailableError", "connect", "tls_config"]

CONNECT_TIMEOUT_SECONDS = 10.0


class TemporalUnavailableError(RuntimeError):
    """The Temporal frontend could not be reached or refused us."""


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS from the settings: mTLS when a cert/key pair is given, server TLS for an API key."""
    if settings.temporal_tls_cert is None and settings.temporal_tls_ca is None:
        # Temporal Cloud API keys only travel over TLS; a plain dev server needs none.
        return settings.temporal_api_key is not None
    return TLSConfig(
        server_root_ca_cert=None
        if settings.temporal_tls_ca is None
        else settings.temporal_tls_ca.read_bytes(),
        client_cert=None
        if settings.temporal_tls_cert is None
        else settings.temporal_tls_cert.read_bytes(),
        client_private_key=None
        if settings.temporal_tls_key is None
        else settings.temporal_tls_key.read_bytes(),
    )


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> Client:
    """A client for the configured address and namespace; fails within `connect_timeout` s."""
    where = f"{settings.temporal_address} (namespace {settings.temporal_namespace})"
    try:
        return await asyncio.wait_for(
            Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                api_key=settings.temporal_api_key,
                tls=tls_config(settings),
                data_converter=pydantic_data_converter,
                connect_timeout=timedelta(seconds=connect_timeout),
                runtime=runtime,
            ),
            timeout=connect_timeout,
        )
    except TimeoutError as err:
        msg = f"cannot connect to Temporal at {where}: no answer within {connect_timeout:g}s"
        raise TemporalUnavailableError(msg) from err
    except RuntimeError as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        msg = f"cannot connect to Temporal at {where}: {reason}"
        raise TemporalUnavailableError(msg) from err
