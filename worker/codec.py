"""AES-256-GCM payload encryption, so personal data never sits in Temporal history in clear.

Registrations carry names and e-mail addresses, statements carry what citizens wrote: with a
key configured, every payload (workflow inputs and results, signal and update arguments,
activity arguments and results, queries) is encrypted by the client before it leaves the
process, and the Temporal server only ever stores ciphertext. The Web UI reads it through
`civicflow codec-server`.

The wire format is the one of Temporal's own encryption samples (Python, Go, TypeScript): the
encrypted payload is the serialized original payload, encrypted as `nonce (12 bytes) ||
ciphertext+tag`, with metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`. An
integrator in another language can therefore copy the sample codec and add civicflow's keys.

Keys rotate: the codec encrypts with the current key and decrypts with any configured key, so
a new key is added first, made current, and the old one is dropped only once no open history
holds payloads written with it. Payloads without the encrypted encoding pass through, so
procedures that started before encryption was switched on keep running.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

__all__ = [
    "ENCODING",
    "KEY_ID_METADATA",
    "EncryptionCodec",
    "PayloadDecryptionError",
    "PayloadKeyError",
    "UnknownPayloadKeyError",
    "parse_payload_keys",
]

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per payload
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PayloadKeyError(ValueError):
    """Key material is malformed; the message never contains the key itself."""


class UnknownPayloadKeyError(ValueError):
    """A payload was encrypted with a key this process does not have."""


class PayloadDecryptionError(ValueError):
    """A payload's ciphertext does not authenticate: altered, truncated or the wrong key."""


def _decode_key(key_id: str, text: str) -> bytes:
    if not _KEY_ID.match(key_id):
        msg = (
            f"key id {key_id!r}: expected 1-64 characters of letters, digits, '.', '_', '-' "
            "(starting with a letter or digit)"
        )
        raise PayloadKeyError(msg)
    # standard or URL-safe alphabet, padding optional
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        msg = f"key {key_id!r}: expected base64 (e.g. from `openssl rand -base64 32`)"
        raise PayloadKeyError(msg) from None
    if len(raw) != KEY_BYTES:
        msg = f"key {key_id!r}: expected {KEY_BYTES} bytes (AES-256) in base64, got {len(raw)}"
        raise PayloadKeyError(msg)
    return raw


def parse_payload_keys(text: str) -> dict[str, bytes]:
    """Keys by id from `{"id": "base64", ...}` or `id:base64,id2:base64`.

    Both forms because the JSON form is natural in a Kubernetes Secret and the list form in a
    shell; the base64 may be standard or URL-safe.
    """
    stripped = text.strip()
    if not stripped:
        msg = "expected at least one key (id:base64key)"
        raise PayloadKeyError(msg)
    pairs: list[tuple[str, str]] = []
    if stripped.startswith("{"):
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError as err:
            # The error position is harmless; the text around it is not repeated.
            msg = f"expected a JSON object of id: base64 key (invalid JSON at char {err.pos})"
            raise PayloadKeyError(msg) from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            msg = 'expected a JSON object of strings, {"key-id": "base64 key"}'
            raise PayloadKeyError(msg)
        pairs = [(str(key_id), value) for key_id, value in loaded.items()]
    else:
        for position, item in enumerate(stripped.split(","), start=1):
            key_id, sep, value = item.strip().partition(":")
            if not sep:
                msg = f"entry {position}: expected id:base64key"
                raise PayloadKeyError(msg)
            pairs.append((key_id.strip(), value))
    keys: dict[str, bytes] = {}
    for key_id, value in pairs:
        if key_id in keys:
            msg = f"key id {key_id!r} is given twice"
            raise PayloadKeyError(msg)
        keys[key_id] = _decode_key(key_id, value)
    if not keys:
        msg = "expected at least one key (id:base64key)"
        raise PayloadKeyError(msg)
    return keys


class EncryptionCodec(PayloadCodec):
    """Encrypts with the current key, decrypts with any known key (see the module docstring)."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        super().__init__()
        if current_key_id not in keys:
            msg = f"current key id {current_key_id!r} is not among the keys ({_ids(keys)})"
            raise PayloadKeyError(msg)
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                msg = f"key {key_id!r}: expected {KEY_BYTES} bytes, got {len(key)}"
                raise PayloadKeyError(msg)
        self.current_key_id = current_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids this codec can decrypt; safe to show (ids, never keys)."""
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        return f"EncryptionCodec(current_key_id={self.current_key_id!r}, keys={self.key_ids!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Every payload, encrypted with the current key."""
        cipher = self._ciphers[self.current_key_id]
        key_id = self.current_key_id.encode()
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=data)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypted payloads decrypted; others (written before encryption) unchanged."""
        return [self._decrypt(payload) for payload in payloads]

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            msg = (
                f"payload encrypted with key id {key_id!r}, which is not configured "
                f"(known: {', '.join(self.key_ids)}); add it to CIVICFLOW_PAYLOAD_KEYS "
                "(or to the file CIVICFLOW_PAYLOAD_KEYS_FILE names)"
            )
            raise UnknownPayloadKeyError(msg)
        if len(payload.data) <= NONCE_BYTES:
            msg = f"payload encrypted with key id {key_id!r} is truncated"
            raise PayloadDecryptionError(msg)
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            msg = (
                f"payload encrypted with key id {key_id!r} does not authenticate: "
                "altered, or encrypted with a different key under the same id"
            )
            raise PayloadDecryptionError(msg) from None
        return Payload.FromString(plain)


def _ids(keys: Mapping[str, bytes]) -> str:
    return ", ".join(keys) or "none"
