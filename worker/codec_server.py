"""`civicflow codec-server`: Temporal's codec server protocol over civicflow's payload codec.

With encryption on, the Temporal Web UI (and `temporal workflow show`) see only ciphertext.
The UI's "Data Encoder" (or `temporal server start-dev --ui-codec-endpoint URL`) sends the
payloads it wants to show to `POST /decode` from the administrator's browser, so the keys stay
on this server and never reach the Temporal server. The protocol is Temporal's: the body and
the answer are `{"payloads": [...]}` in protobuf JSON; `POST /encode` is the reverse (used
when the UI sends a signal or starts a workflow). The browser calls cross-origin, so the UI's
origin must be allowed (CORS); in production a bearer token (the UI can pass the user's access
token, or a proxy adds a fixed one) keeps the decoder from being an open decryption oracle.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar

from google.protobuf import json_format
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from worker.asgi import bind, serve_app
from worker.codec import PayloadDecryptionError, UnknownPayloadKeyError
from worker.config import load_from_environment
from worker.secret_files import SecretFileSettings

__all__ = ["CodecServerSettings", "create_codec_app", "load_codec_server_settings", "serve"]

MAX_BODY_BYTES = 64 * 1024 * 1024  # a batch of payloads; one payload is at most 2 MB
_CodecFn = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
_TOKEN_VARIABLE = "CIVICFLOW_CODEC_SERVER_TOKEN"  # noqa: S105  (a variable name)


class CodecServerSettings(SecretFileSettings):
    """Where the codec server listens and whom it answers (`CIVICFLOW_CODEC_SERVER_*`).

    The keys are the worker's (`CIVICFLOW_PAYLOAD_KEYS` or `_FILE`, `CIVICFLOW_PAYLOAD_KEY_ID`);
    the token may come from a file too (`CIVICFLOW_CODEC_SERVER_TOKEN_FILE`).
    """

    model_config = SettingsConfigDict(
        env_prefix="CIVICFLOW_CODEC_SERVER_", extra="forbid", frozen=True, hide_input_in_errors=True
    )
    secret_file_variables: ClassVar[Mapping[str, str]] = {"token": _TOKEN_VARIABLE}

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8081, ge=0, le=65535, description="0: any free port")
    cors_origins: str = Field(
        default="http://127.0.0.1:8233,http://localhost:8233",
        description="comma list of Web UI origins allowed to call from a browser",
    )
    token: SecretStr | None = Field(
        default=None, description="if set, requests need `Authorization: Bearer <token>`"
    )
    shutdown_grace_seconds: float = Field(default=5.0, ge=0, le=600)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in _split(value):
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                msg = f"expected origins like http://127.0.0.1:8233 (no path), got {origin!r}"
                raise ValueError(msg)
        return value

    @property
    def origins(self) -> list[str]:
        """The allowed origins, parsed."""
        return _split(self.cors_origins)


def _split(value: str) -> list[str]:
    return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]


def load_codec_server_settings(**overrides: object) -> CodecServerSettings:
    """Settings from the environment, non-None overrides (CLI flags) taking precedence."""
    return load_from_environment(CodecServerSettings, overrides)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _authorised(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def create_codec_app(
    codec: PayloadCodec, *, cors_origins: Sequence[str], token: str | None = None
) -> Starlette:
    """The ASGI app: POST /encode, POST /decode, GET /healthz, CORS preflight for
    `cors_origins`."""

    def endpoint(apply: _CodecFn) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if not _authorised(request, token):
                return _error(401, "missing or wrong bearer token")
            declared = request.headers.get("content-length", "0")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:  # refuse before reading
                return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
            try:
                given = json_format.Parse(body, Payloads())
            except json_format.ParseError as err:
                return _error(400, f'expected {{"payloads": [...]}} in protobuf JSON: {err}')
            try:
                result = Payloads(payloads=await apply(given.payloads))
            except (UnknownPayloadKeyError, PayloadDecryptionError) as err:
                return _error(400, str(err))
            return Response(json_format.MessageToJson(result), media_type="application/json")

        return handle

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/encode", endpoint(codec.encode), methods=["POST"]),
            Route("/decode", endpoint(codec.decode), methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["POST"],
                allow_headers=["content-type", "x-namespace", "authorization"],
                allow_credentials=True,  # the UI's "include cross-origin credentials"
                max_age=600,
            )
        ],
    )


async def serve(
    settings: CodecServerSettings,
    codec: PayloadCodec,
    stop: asyncio.Event,
    *,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until `stop` is set; `ready(url)` once requests are accepted."""

    token = None if settings.token is None else settings.token.get_secret_value()
    app = create_codec_app(codec, cors_origins=settings.origins, token=token)
    sock = bind(settings.host, settings.port)
    await serve_app(
        app,
        sock,
        stop,
        lifespan="off",
        grace_seconds=settings.shutdown_grace_seconds,
        ready=ready,
    )
