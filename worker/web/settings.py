"""Settings of the public site (`CIVICFLOW_WEB_*`), validated once at start.

The database is the worker's (`CIVICFLOW_DATABASE_URL`, `CIVICFLOW_DATABASE_SCHEMA`), so the
site and the worker read the same variables and cannot drift apart. The open-data licence
named in the footer, feeds and exports is `worker.web.exports.OpenDataSettings`
(`CIVICFLOW_OPEN_DATA_*`), kept in one place.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from activities.storage.pool import check_schema_name
from worker.config import ConfigError, check_postgres_url

__all__ = ["WebSettings", "load_web_settings"]

_AGS = re.compile(r"^\d{8}$")


class WebSettings(BaseSettings):
    """Where the site listens, which database it reads, and how it names itself."""

    model_config = SettingsConfigDict(
        env_prefix="CIVICFLOW_WEB_", extra="forbid", frozen=True, populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(default=8080, ge=0, le=65535, description="0: any free port")
    base_url: str | None = Field(
        default=None,
        description="public URL of the site, for absolute links in feeds (default: request)",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias=AliasChoices("database_url", "CIVICFLOW_DATABASE_URL"),
    )
    database_schema: str = Field(
        default="public",
        validation_alias=AliasChoices("database_schema", "CIVICFLOW_DATABASE_SCHEMA"),
    )
    database_pool_size: int = Field(default=5, ge=1, le=100)
    site_name: str = Field(default="civicflow", min_length=1, max_length=100)
    default_language: Literal["de", "en"] = "de"
    municipality_names: dict[str, str] = Field(
        default_factory=dict,
        description='display names by AGS key, JSON: {"08221000": "Heidelberg"}',
    )
    participation_url: str | None = Field(
        default=None, description="the participation portal where statements are submitted"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)

    @field_validator("base_url", "participation_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            msg = f"expected an http:// or https:// URL, got {value!r}"
            raise ValueError(msg)
        return value.rstrip("/") if value is not None else None

    @field_validator("base_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        # The site's links are absolute paths ("/procedures/..."): it is served at the root
        # of its host, so a path prefix here would produce links that lead nowhere.
        if value is not None and re.match(r"^https?://[^/]+/.", value + "/"):
            msg = f"expected scheme and host only (the site is served at /), got {value!r}"
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

    @field_validator("municipality_names", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dict):
            bad = [key for key in value if not _AGS.match(str(key))]
            if bad:
                msg = f"keys must be AGS keys of 8 digits, got {', '.join(map(repr, bad))}"
                raise ValueError(msg)
        return value

    def municipality_name(self, ags: str) -> str:
        """The display name of a municipality, or its AGS key if none is configured."""
        return self.municipality_names.get(ags, ags)


_ENV = {
    "database_url": "CIVICFLOW_DATABASE_URL",
    "database_schema": "CIVICFLOW_DATABASE_SCHEMA",
}


def load_web_settings(**overrides: object) -> WebSettings:
    """Settings from the environment; non-None overrides (CLI flags) win. ConfigError names
    every wrong setting with its environment variable."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return WebSettings(**given)  # type: ignore[arg-type]
    except ValidationError as err:
        problems = []
        for error in err.errors():
            field = str(error["loc"][0]) if error["loc"] else "settings"
            env = _ENV.get(field, f"CIVICFLOW_WEB_{field.upper()}")
            problems.append(f"{field} ({env}): {error['msg']}")
        msg = "invalid configuration: " + "; ".join(problems)
        raise ConfigError(msg) from err
    except SettingsError as err:  # an environment value that is not valid JSON
        msg = f"invalid configuration: {err} (expected JSON)"
        raise ConfigError(msg) from err
