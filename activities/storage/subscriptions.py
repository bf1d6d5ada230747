"""Webhook subscriptions: who receives which events (the secret itself lives outside the DB).

A subscription matches procedures by kind (the definition's `kind`, e.g. bauleitplanung, or a
definition id such as baugb-3-2) and/or municipality (AGS) and
event types by glob (`de.civicflow.statement.*`). `secret_ref` names the secret the worker
resolves at delivery (by default the environment variable `CIVICFLOW_WEBHOOK_SECRET_<REF>`),
so neither the database nor the repository ever holds it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

__all__ = ["Subscription", "list_subscriptions", "remove_subscription", "save_subscription"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    url: str
    secret_ref: str
    procedure_kind: str | None = None
    municipality: str | None = None
    event_types: tuple[str, ...] = ()
    active: bool = True


def _check(sub: Subscription) -> None:
    for field, value in (("subscription_id", sub.subscription_id), ("secret_ref", sub.secret_ref)):
        if not _ID.match(value):
            msg = f"{field}: expected letters, digits, '.', '_' or '-' (1-100), got {value!r}"
            raise ValueError(msg)
    if not sub.url.startswith(("https://", "http://")):
        msg = "url: expected an http(s) URL"
        raise ValueError(msg)
    if sub.municipality is not None and not re.fullmatch(r"\d{8}", sub.municipality):
        msg = f"municipality: expected an 8-digit AGS key, got {sub.municipality!r}"
        raise ValueError(msg)


async def save_subscription(pool: asyncpg.Pool, sub: Subscription) -> None:
    """Create or replace the subscription with this id."""
    _check(sub)
    await pool.execute(
        """
        INSERT INTO webhook_subscriptions (subscription_id, url, secret_ref, procedure_kind,
            municipality, event_types, active)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (subscription_id) DO UPDATE SET url = EXCLUDED.url,
            secret_ref = EXCLUDED.secret_ref, procedure_kind = EXCLUDED.procedure_kind,
            municipality = EXCLUDED.municipality, event_types = EXCLUDED.event_types,
            active = EXCLUDED.active
        """,
        sub.subscription_id,
        sub.url,
        sub.secret_ref,
        sub.procedure_kind,
        sub.municipality,
        list(sub.event_types) or None,
        sub.active,
    )


async def remove_subscription(pool: asyncpg.Pool, subscription_id: str) -> bool:
    """Deactivate (not delete: its outbox rows keep their reference); True if it existed."""
    result: str = await pool.execute(
        "UPDATE webhook_subscriptions SET active = false WHERE subscription_id = $1",
        subscription_id,
    )
    return result.endswith(" 1")


async def list_subscriptions(pool: asyncpg.Pool) -> Sequence[Subscription]:
    rows = await pool.fetch(
        "SELECT subscription_id, url, secret_ref, procedure_kind, municipality, event_types, "
        "active FROM webhook_subscriptions ORDER BY subscription_id"
    )
    return [
        Subscription(
            r["subscription_id"],
            r["url"],
            r["secret_ref"],
            r["procedure_kind"],
            r["municipality"],
            tuple(r["event_types"] or ()),
            r["active"],
        )
        for r in rows
    ]
