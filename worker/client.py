"""Connect to Temporal the way every civicflow process does: settings in, client out.

The pydantic data converter is not optional: workflow and activity payloads are pydantic
models, and a client without it would send them in a shape the worker cannot read. With
`CIVICFLOW_PAYLOAD_KEYS` set it also encrypts (worker.codec): worker, CLI and integrator
helpers all connect here, so they all agree on the keys.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from worker.codec import EncryptionCodec, parse_payload_keys
from worker.config import Settings

__all__ = ["TemporalUnavailableError", "connect", "data_converter", "payload_codec", "tls_config"]

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


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The payload encryption codec of the settings, or None when no key is configured."""
    if settings.payload_keys is None:
        return None
    keys = parse_payload_keys(settings.payload_keys.get_secret_value())
    current = settings.payload_key_id or next(iter(keys))  # settings allow this only for one key
    return EncryptionCodec(keys, current)


def data_converter(settings: Settings) -> DataConverter:
    """pydantic converter, plus encryption when keys are configured.

    Encrypted, failure messages and stack traces are moved into an encoded (so encrypted)
    attribute as well: an error such as a rejected registration may quote what it rejected.
    """
    codec = payload_codec(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
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
                data_converter=data_converter(settings),
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
