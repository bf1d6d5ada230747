-- Audit chain, outbox and webhook subscriptions (issue 6).

-- The head of each procedure's chain. Appends lock this row (SELECT ... FOR UPDATE), which
-- serialises concurrent appends per procedure, and `verify` compares it with the last event so
-- that a deleted tail is noticed too.
CREATE TABLE audit_heads (
    procedure_id  text PRIMARY KEY,
    last_seq      bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_hash     char(64) NOT NULL DEFAULT repeat('0', 64)
);

-- Append-only, hash-chained event log. `payload` holds the exact canonical JSON text that was
-- hashed (it includes seq, event_id, type, occurred_at and data); the other columns repeat
-- parts of it for querying and are checked against it by `civicflow audit verify`.
-- The log never holds personal data: participants appear as opaque ids or salted digests.
CREATE TABLE events (
    procedure_id  text NOT NULL,
    seq           bigint NOT NULL CHECK (seq >= 1),
    event_id      text NOT NULL,              -- idempotency key from workflow id + stable id
    event_type    text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    payload       text NOT NULL,
    prev_hash     char(64) NOT NULL,
    hash          char(64) NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (procedure_id, seq),
    UNIQUE (procedure_id, event_id)
);
CREATE INDEX events_type_idx ON events (procedure_id, event_type);

-- Defence in depth: the application role cannot rewrite history by accident. (An owner can
-- still disable the trigger; that is what the hash chain is for.)
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % of procedure % seq % refused',
        TG_OP, OLD.procedure_id, OLD.seq;
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- Where outbound events go. The secret itself lives outside the database and the repo:
-- `secret_ref` names it (resolved by the worker, e.g. from an environment variable).
CREATE TABLE webhook_subscriptions (
    subscription_id  text PRIMARY KEY,
    url              text NOT NULL CHECK (url ~ '^https?://'),
    secret_ref       text NOT NULL,
    procedure_kind   text,                    -- NULL: every kind
    municipality     text,                    -- AGS key; NULL: every municipality
    event_types      text[],                  -- NULL: every event type
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: rows are written in the transaction of the event that causes them.
-- Status: pending (due at next_attempt_at), failed (last attempt failed, retried at
-- next_attempt_at), delivered, incident (attempt limit reached or permanent error: needs a
-- human; never dropped), cancelled (mail to a participant whose personal data was erased).
CREATE TABLE outbox (
    message_id       uuid PRIMARY KEY,        -- stable (uuid5 of its cause): receivers dedupe
    procedure_id     text NOT NULL,
    event_id         text,
    channel          text NOT NULL CHECK (channel IN ('mail', 'webhook')),
    recipient        text NOT NULL,           -- subscription id, participant id or address ref
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'incident', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX outbox_incident_idx ON outbox (procedure_id) WHERE status = 'incident';

-- Records (activities/records.py). Every table's key is the record's stable id within its
-- procedure; writes are INSERT ... ON CONFLICT DO NOTHING, so a retried activity is a no-op.

CREATE TABLE procedures (
    procedure_id        text PRIMARY KEY,     -- the workflow id
    definition_id       text NOT NULL,        -- also the procedure kind webhooks filter on
    definition_version  text NOT NULL,
    definition_hash     char(64) NOT NULL,
    title               text NOT NULL,
    municipality        text NOT NULL,        -- AGS key
    land                text NOT NULL,
    started_at          timestamptz NOT NULL,
    parameters          jsonb NOT NULL DEFAULT '{}',
    recorded_at         timestamptz NOT NULL DEFAULT now()
);

-- Who takes part; no personal data here (language is a delivery preference, role an
-- audience). `pseudonym` is a salted digest of the contact; the salt is erased with the
-- personal data, after which the pseudonym links to nobody.
CREATE TABLE participants (
    procedure_id    text NOT NULL,
    participant_id  text PRIMARY KEY,
    role            text NOT NULL,
    language        text NOT NULL DEFAULT 'de',
    pseudonym       char(64) NOT NULL,
    registered_at   timestamptz NOT NULL,
    erased_at       timestamptz
);
CREATE INDEX participants_audience_idx ON participants (procedure_id, role);

-- Personal data, one row per participant, deleted on erasure.
CREATE TABLE participant_personal (
    participant_id  text PRIMARY KEY REFERENCES participants (participant_id),
    salt            bytea NOT NULL,
    name            text,
    email           text,
    address         text,
    organisation    text
);

CREATE TABLE statements (
    procedure_id    text NOT NULL,
    statement_id    text NOT NULL,
    sequence        integer NOT NULL CHECK (sequence >= 1),
    round           integer NOT NULL CHECK (round >= 1),
    phase_id        text NOT NULL,
    author_ref      text,                     -- participant_id, never a name
    statement_type  text NOT NULL,
    text            text NOT NULL,
    attachments     text[] NOT NULL DEFAULT '{}',
    received_at     timestamptz NOT NULL,
    late            boolean NOT NULL DEFAULT false,
    receipt_digest  char(64) NOT NULL,
    PRIMARY KEY (procedure_id, statement_id)
);
CREATE INDEX statements_sequence_idx ON statements (procedure_id, sequence);

CREATE TABLE votes (
    procedure_id    text NOT NULL,
    vote_id         text NOT NULL,
    round           integer NOT NULL CHECK (round >= 1),
    phase_id        text NOT NULL,
    proposal_id     text NOT NULL,
    voter_ref       text NOT NULL,
    choice          text NOT NULL,
    cast_at         timestamptz NOT NULL,
    receipt_digest  char(64) NOT NULL,
    PRIMARY KEY (procedure_id, vote_id),
    UNIQUE (procedure_id, proposal_id, voter_ref)   -- one vote per voter and proposal
);

CREATE TABLE decisions (
    procedure_id    text NOT NULL,
    decision_id     text NOT NULL,
    round           integer NOT NULL CHECK (round >= 1),
    phase_id        text NOT NULL,
    body            text NOT NULL,
    outcome         text NOT NULL,
    title           text NOT NULL,
    text            text NOT NULL DEFAULT '',
    decided_at      timestamptz NOT NULL,
    receipt_digest  char(64) NOT NULL,
    PRIMARY KEY (procedure_id, decision_id)
);

CREATE TABLE commitments (
    procedure_id        text NOT NULL,
    commitment_id       text NOT NULL,
    phase_id            text NOT NULL,
    owner_role          text NOT NULL,
    owner_organisation  text NOT NULL,
    title               text NOT NULL,
    measurable_aim      text NOT NULL,
    due_date            date NOT NULL,
    status              text NOT NULL
                        CHECK (status IN ('open', 'in_progress', 'done', 'overdue', 'dropped')),
    status_changed_at   timestamptz NOT NULL,  -- time of the report that set `status`
    created_at          timestamptz NOT NULL,
    receipt_digest      char(64) NOT NULL,
    PRIMARY KEY (procedure_id, commitment_id)
);
CREATE INDEX commitments_due_idx ON commitments (due_date) WHERE status IN ('open', 'in_progress', 'overdue');

CREATE TABLE progress_reports (
    procedure_id      text NOT NULL,
    report_id         text NOT NULL,
    commitment_id     text NOT NULL,
    phase_id          text NOT NULL,
    status            text NOT NULL
                      CHECK (status IN ('open', 'in_progress', 'done', 'overdue', 'dropped')),
    progress_percent  integer NOT NULL CHECK (progress_percent BETWEEN 0 AND 100),
    text              text NOT NULL DEFAULT '',
    reporter_ref      text,
    reported_at       timestamptz NOT NULL,
    receipt_digest    char(64) NOT NULL,
    PRIMARY KEY (procedure_id, report_id),
    FOREIGN KEY (procedure_id, commitment_id) REFERENCES commitments (procedure_id, commitment_id)
);

-- Every status a commitment had: its creation, then one row per progress report.
CREATE TABLE commitment_status_history (
    procedure_id   text NOT NULL,
    commitment_id  text NOT NULL,
    change_id      text NOT NULL,             -- 'created' or the report id
    status         text NOT NULL,
    changed_at     timestamptz NOT NULL,
    PRIMARY KEY (procedure_id, commitment_id, change_id),
    FOREIGN KEY (procedure_id, commitment_id) REFERENCES commitments (procedure_id, commitment_id)
);
