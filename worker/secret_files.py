"""`<NAME>_FILE`: a secret setting read from a file (Docker and Kubernetes secrets).

Municipal IT mounts secrets as files rather than putting them into the environment, where
`docker inspect`, crash reports and child processes would see them. For each secret setting
`CIVICFLOW_X`, the variable `CIVICFLOW_X_FILE=/run/secrets/x` stands for `CIVICFLOW_X` with
that file's content (trailing line breaks removed, as `echo` and editors leave them). Setting
both is refused: which one wins would be a guess. Errors name the variable, the path and the
problem, never the content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = [
    "MAX_SECRET_BYTES",
    "SecretFileError",
    "SecretFileSettings",
    "SecretFileSource",
    "read_secret_file",
    "source_of",
]

MAX_SECRET_BYTES = 64 * 1024  # keys, tokens, passwords and URLs are far smaller
SUFFIX = "_FILE"


class SecretFileError(ValueError):
    """A `<NAME>_FILE` variable points at no readable secret; never holds its content."""


def read_secret_file(variable: str, path: str) -> str:
    """The secret in `path`, which `variable` named; `SecretFileError` says what is wrong."""
    where = f"{variable}: file {path}"
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_SECRET_BYTES + 1)
    except FileNotFoundError:
        msg = f"{where} does not exist (is the secret mounted there?)"
        raise SecretFileError(msg) from None
    except IsADirectoryError:
        msg = f"{where} is a directory; expected the file that holds the secret"
        raise SecretFileError(msg) from None
    except PermissionError:
        msg = (
            f"{where} is not readable by this process (uid {os.geteuid()}); "
            "check the mount's owner and mode"
        )
        raise SecretFileError(msg) from None
    except OSError as err:
        msg = f"{where} cannot be read: {err.strerror or type(err).__name__}"
        raise SecretFileError(msg) from None
    if len(raw) > MAX_SECRET_BYTES:
        msg = f"{where} is larger than {MAX_SECRET_BYTES} bytes; expected a secret"
        raise SecretFileError(msg)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        msg = f"{where} is not UTF-8 text"
        raise SecretFileError(msg) from None
    text = text.rstrip("\r\n")
    if not text.strip():
        msg = f"{where} is empty"
        raise SecretFileError(msg)
    return text


def env_or_file(variable: str) -> str | None:
    """`variable`'s value, or the content of the file `<variable>_FILE` names; None if neither
    is set. For secrets read outside a settings class (webhook secrets by reference)."""
    path = os.environ.get(variable + SUFFIX)
    if not path:
        return os.environ.get(variable)
    if os.environ.get(variable):
        msg = f"{variable} and {variable}{SUFFIX} are both set; set only one of them"
        raise SecretFileError(msg)
    return read_secret_file(variable + SUFFIX, path)


def source_of(variable: str) -> str:
    """How to name a setting in an error: its `_FILE` variable and path when that is set."""
    path = os.environ.get(variable + SUFFIX)
    return f"{variable}{SUFFIX}={path}" if path else variable


class SecretFileSource(PydanticBaseSettingsSource):
    """Reads `<variable>_FILE` for the given fields ({field name: variable}).

    Ranked after the environment in `settings_customise_sources`; since a setting given both
    ways is refused, the rank only matters against constructor arguments (CLI flags), which
    win as they do over the environment.
    """

    def __init__(self, settings_cls: type[BaseSettings], fields: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._fields = dict(fields)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every field at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field, variable in self._fields.items():
            # unset or empty (compose's `${X:-}`): not given; the environment source has it
            if os.environ.get(variable + SUFFIX):
                values[field] = env_or_file(variable)
        return values


class SecretFileSettings(BaseSettings):
    """Settings whose secret fields may come from `<variable>_FILE`: subclasses name them in
    `secret_file_variables` ({field name: variable})."""

    secret_file_variables: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructor arguments, the environment, then the `_FILE` variables."""
        files = SecretFileSource(settings_cls, cls.secret_file_variables)
        return init_settings, env_settings, files, dotenv_settings, file_secret_settings
