-- Walking skeleton: proves worker -> activity -> PostgreSQL wiring end to end.
CREATE TABLE skeleton_pings (
    ping_id      text PRIMARY KEY,          -- workflow id + run-stable key: idempotent writes
    workflow_id  text NOT NULL,
    message      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
