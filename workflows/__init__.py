"""Deterministic workflow code: the `Procedure` workflow and its phase runners.

- `procedure`: `ProcedureWorkflow` (type `Procedure`): start, phase loop, transitions, queries.
- `intake`, `participation`, `admin`: its update/signal handlers, each with its validator.
- `phases/`: one runner per phase type (invitation, hearing, deliberation, commitment, review).
- `engine`: platform mechanics (activity calls, batched intake, visibility, continue-as-new).
- `checks`, `rules`: pure validation and procedure rules; `state`: the one carried state model.
- `messages`: every payload crossing the boundary; `visibility`: search attribute keys.
- `client`: client-side intake helper for integrators (never imported by workflow code).
"""
