"""The payload codec on its own: round trip, rotation, unknown keys, tampering, settings."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner

from worker.cli import app
from worker.client import data_converter, payload_codec
from worker.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeyError,
    UnknownPayloadKeyError,
    parse_payload_keys,
)
from worker.config import ConfigError, load_settings
from workflows.messages import RegisterInput

NAME = "Erika Mustermann"
EMAIL = "erika.mustermann@example.org"
K1 = os.urandom(32)
K2 = os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_encrypts_every_payload() -> None:
    codec = EncryptionCodec({"k1": K1}, "k1")
    originals = [plain(NAME), plain(EMAIL)]
    encoded = await codec.encode(originals)
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == b"k1"
        assert b"Mustermann" not in payload.SerializeToString()
    assert await codec.decode(encoded) == originals


async def test_each_encryption_uses_a_fresh_nonce() -> None:
    codec = EncryptionCodec({"k1": K1}, "k1")
    first, second = await codec.encode([plain(NAME), plain(NAME)])
    assert first.data != second.data


async def test_rotation_old_key_decrypts_new_key_encrypts() -> None:
    before = EncryptionCodec({"k1": K1}, "k1")
    after = EncryptionCodec({"k1": K1, "k2": K2}, "k2")
    old = await before.encode([plain(NAME)])
    assert await after.decode(old) == [plain(NAME)]
    new = await after.encode([plain(NAME)])
    assert new[0].metadata[KEY_ID_METADATA] == b"k2"
    # a process that was not given the new key says which key it lacks
    with pytest.raises(UnknownPayloadKeyError, match=r"key id 'k2'.*known: k1"):
        await before.decode(new)


async def test_unencrypted_payloads_pass_through() -> None:
    codec = EncryptionCodec({"k1": K1}, "k1")
    assert await codec.decode([plain(NAME)]) == [plain(NAME)]


async def test_tampered_ciphertext_fails() -> None:
    codec = EncryptionCodec({"k1": K1}, "k1")
    (payload,) = await codec.encode([plain(NAME)])
    data = bytearray(payload.data)
    data[-5] ^= 0x01
    tampered = Payload(metadata=payload.metadata, data=bytes(data))
    with pytest.raises(PayloadDecryptionError, match="'k1' does not authenticate"):
        await codec.decode([tampered])
    truncated = Payload(metadata=payload.metadata, data=payload.data[:12])
    with pytest.raises(PayloadDecryptionError, match="truncated"):
        await codec.decode([truncated])


async def test_same_id_with_another_key_fails() -> None:
    (payload,) = await EncryptionCodec({"k1": K1}, "k1").encode([plain(NAME)])
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec({"k1": K2}, "k1").decode([payload])


def test_parse_both_forms_and_url_safe_base64() -> None:
    assert parse_payload_keys(f"k1:{b64(K1)}, k2:{b64(K2)}") == {"k1": K1, "k2": K2}
    assert parse_payload_keys(f'{{"k1": "{b64(K1)}"}}') == {"k1": K1}
    url_safe = base64.urlsafe_b64encode(K1).decode().rstrip("=")
    assert parse_payload_keys(f"k1:{url_safe}") == {"k1": K1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "at least one key"),
        ("k1", "entry 1: expected id:base64key"),
        (f"k1:{b64(K1)[:-8]}", "expected 32 bytes"),
        ("k1:not*base64", "expected base64"),
        (f"k1:{b64(K1)},k1:{b64(K2)}", "given twice"),
        (f"bad id:{b64(K1)}", "key id 'bad id'"),
        ('{"k1": 5}', "JSON object of strings"),
        ("{nope", "invalid JSON"),
    ],
)
def test_bad_key_material_is_named_not_echoed(text: str, expected: str) -> None:
    with pytest.raises(PayloadKeyError, match=expected) as caught:
        parse_payload_keys(text)
    secret = text.partition(":")[2]
    assert not secret or secret not in str(caught.value)


def test_no_key_configured_changes_nothing() -> None:
    settings = load_settings()
    assert payload_codec(settings) is None
    assert data_converter(settings) is pydantic_data_converter


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS", f"k1:{b64(K1)},k2:{b64(K2)}")
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEY_ID", "k2")
    settings = load_settings()
    assert b64(K1) not in repr(settings)
    codec = payload_codec(settings)
    assert codec is not None
    assert codec.current_key_id == "k2"
    assert codec.key_ids == ("k1", "k2")
    assert b64(K1) not in repr(codec)


def test_bad_settings_name_the_setting_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    short = b64(K1)[:20]
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS", f"k1:{short}")
    with pytest.raises(ConfigError, match="CIVICFLOW_PAYLOAD_KEYS") as caught:
        load_settings()
    assert short not in str(caught.value)
    assert short not in str(caught.value.__cause__)  # nor in a traceback
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS", f"k1:{b64(K1)},k2:{b64(K2)}")
    with pytest.raises(ConfigError, match=r"CIVICFLOW_PAYLOAD_KEY_ID\) must name the current key"):
        load_settings()
    with pytest.raises(ConfigError, match="'k3' is not among payload_keys"):
        load_settings(payload_key_id="k3")
    monkeypatch.delenv("CIVICFLOW_PAYLOAD_KEYS")
    with pytest.raises(ConfigError, match="CIVICFLOW_PAYLOAD_KEYS"):
        load_settings(payload_key_id="k1")


async def test_data_converter_encrypts_models_and_failure_messages() -> None:
    converter = data_converter(load_settings(payload_keys=f"k1:{b64(K1)}"))
    registration = RegisterInput(idempotency_key="r-1", role="citizen", name=NAME, email=EMAIL)
    encoded = await converter.encode([registration])
    assert NAME.encode() not in encoded[0].SerializeToString()
    assert await converter.decode(encoded, [RegisterInput]) == [registration]

    failure = Failure()
    await converter.encode_failure(ApplicationError(f"no registration for {EMAIL}"), failure)
    assert EMAIL.encode() not in failure.SerializeToString()
    error = await converter.decode_failure(failure)
    assert EMAIL in str(error)


def test_codec_server_command_needs_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICFLOW_PAYLOAD_KEYS", raising=False)
    result = CliRunner().invoke(app, ["codec-server", "--port", "0"])
    assert result.exit_code == 2
    assert "CIVICFLOW_PAYLOAD_KEYS is not set" in result.output
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS", f"k1:{b64(K1)}")
    result = CliRunner().invoke(app, ["codec-server", "--cors-origins", "127.0.0.1:8233/x"])
    assert result.exit_code == 2
    assert "CIVICFLOW_CODEC_SERVER_CORS_ORIGINS" in result.output
