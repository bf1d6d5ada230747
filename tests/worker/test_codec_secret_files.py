"""Secrets from files (`<NAME>_FILE`), as Docker and Kubernetes mount them: real files, the
real `civicflow` processes, the codec server over HTTP; the secret never appears in output."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from worker.client import payload_codec
from worker.codec import EncryptionCodec
from worker.codec_server import load_codec_server_settings
from worker.config import ConfigError, load_settings
from worker.secret_files import MAX_SECRET_BYTES, read_secret_file

K1 = os.urandom(32)
K2 = os.urandom(32)
_WITHIN = 60.0


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def secret_file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    path.chmod(0o400)  # as a Kubernetes secret volume with defaultMode 0400
    return path


@pytest.fixture(autouse=True)
def _no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CIVICFLOW_"):
            monkeypatch.delenv(name)


def test_keys_from_a_file_in_either_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The list form with the trailing newline `echo` and editors leave
    listed = secret_file(tmp_path, "keys", f"k1:{b64(K1)},k2:{b64(K2)}\n")
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS_FILE", str(listed))
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEY_ID", "k2")
    settings = load_settings()
    assert b64(K1) not in repr(settings)
    codec = payload_codec(settings)
    assert codec is not None
    assert (codec.current_key_id, codec.key_ids) == ("k2", ("k1", "k2"))
    # The JSON form, as a Kubernetes Secret key holding a document
    as_json = secret_file(tmp_path, "keys.json", f'{{\n  "k1": "{b64(K1)}"\n}}\n')
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS_FILE", str(as_json))
    monkeypatch.delenv("CIVICFLOW_PAYLOAD_KEY_ID")
    codec = payload_codec(load_settings())
    assert codec is not None
    assert codec.key_ids == ("k1",)


async def test_a_key_from_a_file_decrypts_what_the_env_key_encrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS", f"k1:{b64(K1)}")
    from_env = payload_codec(load_settings())
    monkeypatch.delenv("CIVICFLOW_PAYLOAD_KEYS")
    monkeypatch.setenv(
        "CIVICFLOW_PAYLOAD_KEYS_FILE", str(secret_file(tmp_path, "k", f"k1:{b64(K1)}"))
    )
    from_file = payload_codec(load_settings())
    assert from_env is not None
    assert from_file is not None
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"Erika"')
    assert await from_file.decode(await from_env.encode([plain])) == [plain]


def test_bad_key_in_a_file_names_the_variable_and_path_not_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = b64(K1)[:20]
    path = secret_file(tmp_path, "keys", f"k1:{short}\n")
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS_FILE", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"CIVICFLOW_PAYLOAD_KEYS_FILE={path}" in message
    assert "expected 32 bytes" in message
    assert short not in message
    assert short not in repr(caught.value.__cause__)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("", "is empty"),
        ("\n", "is empty"),
        (b"\xff\xfe\x00binary", "is not UTF-8 text"),
        (b"x" * (MAX_SECRET_BYTES + 1), f"is larger than {MAX_SECRET_BYTES} bytes"),
    ],
)
def test_unusable_file_is_named_with_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | bytes | None, problem: str
) -> None:
    path = tmp_path / "missing" if content is None else secret_file(tmp_path, "keys", content)
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS_FILE", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"invalid configuration: CIVICFLOW_PAYLOAD_KEYS_FILE: file {path} {problem}"
        + (" (is the secret mounted there?)" if content is None else "")
        + ("; expected a secret" if "larger" in problem else "")
    )


def test_a_directory_is_not_a_secret_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"X_FILE: file .* is a directory; expected the file"):
        read_secret_file("X_FILE", str(tmp_path))


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "keys", f"k1:{b64(K1)}")
    path.chmod(0o000)
    # Root reads any file whatever its mode: read as an unprivileged user (the image's uid)
    # for the moment of the read, as root may and can undo.
    as_root = os.geteuid() == 0
    if as_root:
        os.seteuid(10001)
    try:
        with pytest.raises(ValueError, match=r"is not readable by this process") as caught:
            read_secret_file("CIVICFLOW_PAYLOAD_KEYS_FILE", str(path))
    finally:
        if as_root:
            os.seteuid(0)
    assert str(caught.value).startswith(f"CIVICFLOW_PAYLOAD_KEYS_FILE: file {path} is not")
    assert b64(K1) not in str(caught.value)


def test_both_the_variable_and_its_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS", f"k1:{b64(K1)}")
    monkeypatch.setenv(
        "CIVICFLOW_PAYLOAD_KEYS_FILE", str(secret_file(tmp_path, "k", f"k2:{b64(K2)}"))
    )
    with pytest.raises(ConfigError, match="CIVICFLOW_PAYLOAD_KEYS and CIVICFLOW_PAYLOAD_KEYS_FILE"):
        load_settings()


def test_an_empty_file_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # compose's `${CIVICFLOW_PAYLOAD_KEYS_FILE:-}` gives an empty value: no encryption
    monkeypatch.setenv("CIVICFLOW_PAYLOAD_KEYS_FILE", "")
    assert payload_codec(load_settings()) is None


def test_other_worker_secrets_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://civicflow:s3cr%2Ft@db.example.org:5432/civicflow"
    monkeypatch.setenv("CIVICFLOW_DATABASE_URL_FILE", str(secret_file(tmp_path, "url", url + "\n")))
    monkeypatch.setenv(
        "CIVICFLOW_TEMPORAL_API_KEY_FILE", str(secret_file(tmp_path, "api", "ak-1\n"))
    )
    settings = load_settings()
    assert settings.database_url == url
    assert settings.temporal_api_key == "ak-1"
    monkeypatch.setenv(
        "CIVICFLOW_DATABASE_URL_FILE", str(secret_file(tmp_path, "bad", "mysql://x"))
    )
    with pytest.raises(ConfigError, match=r"database_url \(CIVICFLOW_DATABASE_URL_FILE=.*/bad\)"):
        load_settings()


def test_codec_server_token_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = secret_file(tmp_path, "token", "t0k3n-from-file\n")
    monkeypatch.setenv("CIVICFLOW_CODEC_SERVER_TOKEN_FILE", str(path))
    settings = load_codec_server_settings()
    assert settings.token is not None
    assert settings.token.get_secret_value() == "t0k3n-from-file"
    assert "t0k3n" not in repr(settings)
    monkeypatch.setenv("CIVICFLOW_CODEC_SERVER_TOKEN_FILE", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"CIVICFLOW_CODEC_SERVER_TOKEN_FILE: file .*nope does"):
        load_codec_server_settings()


async def _serving_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=_WITHIN)).decode()
        assert line, "codec-server exited before serving"
        found = re.search(r"serving (http://\S+) \(keys k1;", line)
        if found:
            return found.group(1)


@pytest.mark.integration
async def test_codec_server_process_reads_key_and_token_files(
    civicflow_exe: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **clean_env,
        "CIVICFLOW_PAYLOAD_KEYS_FILE": str(secret_file(tmp_path, "keys", f"k1:{b64(K1)}\n")),
        "CIVICFLOW_CODEC_SERVER_TOKEN_FILE": str(secret_file(tmp_path, "token", "t0k3n\n")),
    }
    proc = await asyncio.create_subprocess_exec(
        str(civicflow_exe),
        "codec-server",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await _serving_url(proc)
        encrypted = await EncryptionCodec({"k1": K1}, "k1").encode(
            [Payload(metadata={"encoding": b"json/plain"}, data=b'"Erika"')]
        )
        body = json_format.MessageToDict(Payloads(payloads=encrypted))
        async with httpx.AsyncClient(base_url=url, timeout=_WITHIN) as http:
            health = await http.get("/healthz")  # probes carry no token
            refused = await http.post("/decode", json=body)
            answer = await http.post(
                "/decode", json=body, headers={"Authorization": "Bearer t0k3n"}
            )
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        assert refused.status_code == 401
        assert answer.status_code == 200, answer.text
        decoded = json_format.Parse(answer.content, Payloads()).payloads
        assert decoded[0].data == b'"Erika"'
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=_WITHIN)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert b64(K1).encode() not in stdout + stderr


@pytest.mark.integration
@pytest.mark.parametrize("command", [["codec-server", "--port", "0"], ["worker"]])
async def test_processes_refuse_a_bad_key_file_in_one_line_without_the_key(
    civicflow_exe: Path, clean_env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    # A real-looking key of the wrong length (24 bytes: AES-192, not AES-256)
    wrong = b64(os.urandom(24))
    path = secret_file(tmp_path, "keys", f"k1:{wrong}\n")
    proc = await asyncio.create_subprocess_exec(
        str(civicflow_exe),
        *command,
        env={**clean_env, "CIVICFLOW_PAYLOAD_KEYS_FILE": str(path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=_WITHIN)
    assert proc.returncode == 2, (stdout + stderr).decode()
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr.decode()
    assert f"CIVICFLOW_PAYLOAD_KEYS_FILE={path}" in lines[0]
    assert "key 'k1': expected 32 bytes (AES-256) in base64, got 24" in lines[0]
    for fragment in (wrong, wrong[:16], wrong[-16:]):
        assert fragment.encode() not in stdout + stderr
