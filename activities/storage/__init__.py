"""PostgreSQL storage: connection pool, versioned migrations, storage activities.

Modules, one job each:
- `pool`, `migrate`: the asyncpg pool and the versioned SQL migrations (`migrations/`).
- `canonical`: canonical JSON and the digests the audit chain is built from.
- `audit`: the hash-chained event log per procedure (append, serialised; verify).
- `writes`, `intake`: idempotent record writes, and batched statement intake by COPY.
- `outbox`, `fanout`, `delivery`, `pump`: the transactional outbox, what enqueues into it,
  the delivery pass through the notification senders, and a background pump for the worker.
- `erasure`: erasing a participant's personal data without touching the chain.
- `verify`: the chain plus every stored record against it (`civicflow audit verify`).
- `activities`: `StorageActivities`, the Temporal activities of `activities.contracts`.
- `settings`: `StorageSettings` (`CIVICFLOW_STORAGE_*`).

Nothing is re-exported here: `worker.config` imports `pool`, and that must stay cheap.
"""
