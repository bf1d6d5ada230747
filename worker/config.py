"""Worker configuration from environment variables (`CIVICFLOW_*`) and CLI flags.

Validation happens here, once, so a wrong value fails the process at start with one line that
names the setting, instead of a traceback minutes later.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from activities.storage.pool import check_schema_name
from worker.codec import PayloadKeyError, parse_payload_keys
from worker.secret_files import SecretFileError, SecretFileSettings, source_of

__all__ = ["ConfigError", "Settings", "check_postgres_url", "load_settings"]

LogLevel = Literal["debug", "info", "warning", "error"]

SECRET_FIELDS = ("payload_keys", "temporal_api_key", "database_url")
"""Settings that may also come from a file: `CIVICFLOW_<NAME>_FILE` (worker.secret_files)."""


def check_postgres_url(value: str) -> str:
    """The database URL settings of every civicflow process accept the same forms."""
    if not value.startswith(("postgresql://", "postgres://")):
        msg = "expected a postgresql:// URL"
        raise ValueError(msg)
    return value


_S = TypeVar("_S", bound=SecretFileSettings)


class ConfigError(ValueError):
    """Configuration is invalid; the message names every wrong setting."""


class Settings(SecretFileSettings):
    """Everything a civicflow worker needs to know about its surroundings."""

    # hide_input_in_errors: a bad CIVICFLOW_PAYLOAD_KEYS must not end up in a traceback
    model_config = SettingsConfigDict(
        env_prefix="CIVICFLOW_", extra="forbid", frozen=True, hide_input_in_errors=True
    )
    secret_file_variables: ClassVar[Mapping[str, str]] = {
        f: f"CIVICFLOW_{f.upper()}" for f in SECRET_FIELDS
    }

    temporal_address: str = Field(
        default="127.0.0.1:7233", description="host:port of the Temporal frontend"
    )
    temporal_namespace: str = Field(default="default", min_length=1)
    task_queue: str = Field(default="civicflow", min_length=1)
    temporal_tls_cert: Path | None = Field(default=None, description="client certificate (PEM)")
    temporal_tls_key: Path | None = Field(default=None, description="client private key (PEM)")
    temporal_tls_ca: Path | None = Field(default=None, description="server CA bundle (PEM)")
    temporal_api_key: str | None = Field(default=None, repr=False)
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/postgres")
    database_schema: str = Field(default="public")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    metrics_host: str = Field(default="0.0.0.0")
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    log_level: LogLevel = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3600)
    max_concurrent_activities: int = Field(default=100, ge=1, le=10_000)
    phase_gauge_seconds: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="how often civicflow_procedures_by_phase is counted from visibility; 0: never",
    )
    build_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Worker Versioning: this worker's build id (e.g. the image tag); unset: an "
        "unversioned worker",
    )
    deployment_name: str = Field(
        default="civicflow",
        min_length=1,
        max_length=255,
        description="Worker Versioning: the Worker Deployment this build belongs to (no dots)",
    )
    versioning_behavior: Literal["auto_upgrade", "pinned"] = Field(
        default="auto_upgrade",
        description="Worker Versioning: what running procedures do when a new version becomes "
        "current: move to it (auto_upgrade) or stay on the version they started on (pinned)",
    )
    sandbox_passthrough: bool = Field(
        default=True,
        description="import civicflow's packages once per process, not once per workflow "
        "(see worker.run.sandbox_runner); false restores the sandbox's per-run module copies",
    )
    payload_keys: SecretStr | None = Field(
        default=None,
        description="payload encryption keys, id:base64 32 bytes (comma list) or JSON "
        '{"id": "base64"}; environment or CIVICFLOW_PAYLOAD_KEYS_FILE only, never a flag; '
        "unset: payloads are not encrypted",
    )
    payload_key_id: str | None = Field(
        default=None,
        min_length=1,
        description="id of the key new payloads are encrypted with (unset or empty: the only key)",
    )

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            msg = f"expected host:port, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        return check_postgres_url(value)

    @field_validator("database_schema")
    @classmethod
    def _schema(cls, value: str) -> str:
        return check_schema_name(value)

    @field_validator("build_id")
    @classmethod
    def _build_id(cls, value: str | None) -> str | None:
        if value is not None and any(char.isspace() for char in value):
            msg = f"expected a build id without spaces (e.g. the image tag 0.2.0), got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("deployment_name")
    @classmethod
    def _deployment_name(cls, value: str) -> str:
        # Temporal names a version `<deployment name>.<build id>`: a dot would be ambiguous
        if "." in value or any(char.isspace() for char in value):
            msg = f"expected a name without dots or spaces (e.g. civicflow), got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                parse_payload_keys(value.get_secret_value())
            except PayloadKeyError as err:
                raise ValueError(str(err)) from None  # the message never holds key material
        return value

    @field_validator("payload_key_id", mode="before")
    @classmethod
    def _empty_key_id(cls, value: object) -> object:
        # compose passes an unset `${CIVICFLOW_PAYLOAD_KEY_ID:-}` as "": the file's only key
        return None if value == "" else value

    @model_validator(mode="after")
    def _current_payload_key(self) -> Settings:
        if self.payload_keys is None:
            if self.payload_key_id is not None:
                msg = "payload_key_id is set but payload_keys (CIVICFLOW_PAYLOAD_KEYS) is not"
                raise ValueError(msg)
            return self
        ids = list(parse_payload_keys(self.payload_keys.get_secret_value()))
        if self.payload_key_id is None and len(ids) > 1:
            msg = (
                f"payload_key_id (CIVICFLOW_PAYLOAD_KEY_ID) must name the current key "
                f"when several are configured ({', '.join(ids)})"
            )
            raise ValueError(msg)
        if self.payload_key_id is not None and self.payload_key_id not in ids:
            msg = (
                f"payload_key_id (CIVICFLOW_PAYLOAD_KEY_ID) {self.payload_key_id!r} is not "
                f"among payload_keys ({', '.join(ids)})"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            msg = "temporal_tls_cert and temporal_tls_key must be given together"
            raise ValueError(msg)
        for path in (self.temporal_tls_cert, self.temporal_tls_key, self.temporal_tls_ca):
            if path is not None and not path.is_file():
                msg = f"TLS file {path} does not exist"
                raise ValueError(msg)
        return self


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with CLI flags (non-None overrides) taking precedence."""
    return load_from_environment(Settings, overrides)


def load_from_environment(cls: type[_S], overrides: Mapping[str, object]) -> _S:
    """`cls` from its environment variables and `_FILE` secrets, non-None overrides (CLI
    flags) taking precedence; every problem in one `ConfigError` naming field and variable."""
    given = {key: value for key, value in overrides.items() if value is not None}
    prefix = str(cls.model_config.get("env_prefix", ""))
    try:
        return cls(**given)  # type: ignore[arg-type]
    except SecretFileError as err:
        raise ConfigError(f"invalid configuration: {err}") from None
    except ValidationError as err:
        problems = []
        for error in err.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            env = f"{prefix}{field.upper()}" if error["loc"] else ""
            if field in cls.secret_file_variables and field not in given:
                env = source_of(env)  # the value came from the file it names
            where = f"{field} ({env})" if env else field
            problems.append(f"{where}: {error['msg']}")
        msg = "invalid configuration: " + "; ".join(problems)
        raise ConfigError(msg) from err
