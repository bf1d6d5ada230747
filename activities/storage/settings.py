"""Storage settings the worker passes to `StorageActivities` (from `CIVICFLOW_STORAGE_*`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.storage.outbox import BackoffPolicy

__all__ = ["StorageSettings"]


class StorageSettings(BaseSettings):
    """Outbox delivery limits; defaults suit a municipal mail relay and a few webhooks."""

    model_config = SettingsConfigDict(env_prefix="CIVICFLOW_STORAGE_", extra="forbid", frozen=True)

    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_backoff_base_seconds: float = Field(default=30.0, ge=0)
    outbox_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    outbox_batch_size: int = Field(default=50, ge=1, le=1000)
    outbox_lease_seconds: float = Field(
        default=300.0, gt=0, description="a claimed row is due again after this (worker died)"
    )
    index_summary_seconds: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="how often the worker summarises new ranges of the statements' BRIN index; "
        "0: never (autovacuum's autosummarize does it)",
    )
    webhook_secret_env_prefix: str = Field(
        default="CIVICFLOW_WEBHOOK_SECRET_",
        description="a subscription's secret_ref X is read from the variable <prefix>X",
    )

    def backoff(self) -> BackoffPolicy:
        return BackoffPolicy(
            max_attempts=self.outbox_max_attempts,
            base=timedelta(seconds=self.outbox_backoff_base_seconds),
            maximum=timedelta(seconds=self.outbox_backoff_max_seconds),
        )

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.outbox_lease_seconds)
