"""`civicflow webhooks add/list/remove`: the integrator's words for webhook subscriptions.

Thin aliases of `civicflow outbox subscribe/subscriptions/unsubscribe` (same functions, same
options, same exit codes); the subscriptions themselves live in PostgreSQL
(`activities.storage.subscriptions`). A subscription matches procedures by definition id
(`--kind`) and/or municipality, and CloudEvents types by glob (`--type 'de.civicflow.*'`).
"""

from __future__ import annotations

import typer

from worker.commands.outbox import subscribe, subscriptions, unsubscribe

__all__ = ["webhooks_app"]

webhooks_app = typer.Typer(
    name="webhooks",
    help="Webhook subscriptions for outbound CloudEvents (aliases of `civicflow outbox`).",
    no_args_is_help=True,
)

webhooks_app.command("add", help="Create or replace a webhook subscription.")(subscribe)
webhooks_app.command("list", help="List webhook subscriptions (secret references only).")(
    subscriptions
)
webhooks_app.command(
    "remove", help="Deactivate a subscription; undelivered messages are cancelled."
)(unsubscribe)
