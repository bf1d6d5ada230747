-- Read model of the public transparency site (issue 11, `worker/web/readmodel.py`).
--
-- The current phase of a procedure is in its event log (the last `phase.changed`, moved by
-- `deadline.extended`, ended by `procedure.completed`/`cancelled`). Deriving it per request
-- means parsing every procedure's events, which does not scale to a list of 10,000 procedures
-- filtered by phase. So a trigger on `events` INSERT (only for the few event types that matter)
-- keeps three small tables up to date in the same transaction as the event. `events` itself
-- is not altered: it stays append-only and hash-chained; these tables can be rebuilt from it
-- at any time (`public_read_model_rebuild()`, also run once below for existing events).
-- No personal data: ids, dates, phase names, counts and public statuses only.

-- One row per procedure: its lifecycle state and the phase visit it is in now.
CREATE TABLE public_procedure_status (
    procedure_id  text PRIMARY KEY,
    state         text NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'paused', 'completed', 'cancelled')),
    phase_id      text,
    phase_type    text,
    round         integer,
    visit         integer,
    period_start  date,
    period_end    date,                      -- after extensions; NULL: ends without deadline
    last_seq      bigint NOT NULL DEFAULT 0, -- the newest event applied (out-of-order guard)
    updated_at    timestamptz NOT NULL
);
CREATE INDEX public_procedure_status_phase_idx ON public_procedure_status (phase_type, state);
CREATE INDEX public_procedure_status_state_idx ON public_procedure_status (state);

-- One row per phase visit (the timeline and the deadlines of iCalendar feeds).
CREATE TABLE public_phase_periods (
    procedure_id    text NOT NULL,
    seq             bigint NOT NULL,          -- seq of the `phase.changed` event
    phase_id        text NOT NULL,
    phase_type      text NOT NULL,
    round           integer NOT NULL,
    visit           integer NOT NULL,
    period_start    date,
    period_end      date,                     -- after extensions
    planned_end     date,                     -- as first computed
    extensions      integer NOT NULL DEFAULT 0,
    limited_to      text,                     -- audience of a repeated round (BauGB §4a(3))
    started_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,     -- start, or the last extension
    ended_at        timestamptz,
    end_reason      text,
    PRIMARY KEY (procedure_id, seq)
);
CREATE INDEX public_phase_periods_end_idx ON public_phase_periods (period_end);

-- Published review reports (`review.published`): commitment statuses at that time.
CREATE TABLE public_review_reports (
    procedure_id  text NOT NULL,
    seq           bigint NOT NULL,
    phase_id      text NOT NULL,
    round         integer NOT NULL,
    cycle         integer NOT NULL,
    published_at  timestamptz NOT NULL,
    commitments   jsonb NOT NULL DEFAULT '{}',  -- commitment id -> status
    PRIMARY KEY (procedure_id, seq)
);
CREATE INDEX public_review_reports_published_idx ON public_review_reports (published_at DESC);

-- The list page sorts by start and filters by municipality; the Atom feed takes new decisions.
CREATE INDEX procedures_started_idx ON procedures (started_at DESC, procedure_id);
CREATE INDEX procedures_municipality_idx ON procedures (municipality, started_at DESC);
CREATE INDEX decisions_decided_idx ON decisions (decided_at DESC);
CREATE INDEX commitments_procedure_due_idx ON commitments (procedure_id, due_date);

-- Apply one event to the read model. Idempotent per event: a replayed event (rebuild) with a
-- seq not newer than the status row's changes nothing there.
CREATE FUNCTION public_read_model_apply(
    p_procedure_id text, p_seq bigint, p_type text, p_occurred_at timestamptz, p_payload text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    doc    jsonb := p_payload::jsonb -> 'data';
    body   jsonb := coalesce(doc -> 'payload', '{}'::jsonb);
    v_phase text := coalesce(body ->> 'phase_id', doc ->> 'phase_id');
    v_round integer := coalesce((body ->> 'round')::integer, (doc ->> 'round')::integer, 1);
BEGIN
    IF p_type = 'procedure.started' THEN
        INSERT INTO public_procedure_status (procedure_id, state, last_seq, updated_at)
        VALUES (p_procedure_id, 'running', p_seq, p_occurred_at)
        ON CONFLICT (procedure_id) DO NOTHING;
    ELSIF p_type = 'phase.changed' THEN
        INSERT INTO public_phase_periods (procedure_id, seq, phase_id, phase_type, round, visit,
            period_start, period_end, planned_end, limited_to, started_at, updated_at)
        VALUES (p_procedure_id, p_seq, v_phase, body ->> 'phase_type', v_round,
            coalesce((body ->> 'visit')::integer, 1), (body ->> 'period_start')::date,
            (body ->> 'period_end')::date, (body ->> 'period_end')::date,
            body ->> 'limited_to', p_occurred_at, p_occurred_at)
        ON CONFLICT (procedure_id, seq) DO NOTHING;
        INSERT INTO public_procedure_status AS s (procedure_id, state, phase_id, phase_type,
            round, visit, period_start, period_end, last_seq, updated_at)
        VALUES (p_procedure_id, 'running', v_phase, body ->> 'phase_type', v_round,
            coalesce((body ->> 'visit')::integer, 1), (body ->> 'period_start')::date,
            (body ->> 'period_end')::date, p_seq, p_occurred_at)
        ON CONFLICT (procedure_id) DO UPDATE SET
            phase_id = EXCLUDED.phase_id, phase_type = EXCLUDED.phase_type,
            round = EXCLUDED.round, visit = EXCLUDED.visit,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
            last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at
        WHERE s.last_seq < EXCLUDED.last_seq;
    ELSIF p_type = 'deadline.extended' THEN
        UPDATE public_phase_periods p SET period_end = (body ->> 'to')::date,
            extensions = p.extensions + 1, updated_at = p_occurred_at
        WHERE p.procedure_id = p_procedure_id AND p.seq = (
            SELECT max(q.seq) FROM public_phase_periods q
            WHERE q.procedure_id = p_procedure_id AND q.seq < p_seq);
        UPDATE public_procedure_status SET period_end = (body ->> 'to')::date,
            last_seq = p_seq, updated_at = p_occurred_at
        WHERE procedure_id = p_procedure_id AND last_seq < p_seq;
    ELSIF p_type = 'phase.ended' THEN
        UPDATE public_phase_periods p SET ended_at = p_occurred_at, end_reason = body ->> 'reason'
        WHERE p.procedure_id = p_procedure_id AND p.ended_at IS NULL AND p.seq = (
            SELECT max(q.seq) FROM public_phase_periods q
            WHERE q.procedure_id = p_procedure_id AND q.seq < p_seq);
    ELSIF p_type IN ('procedure.pause', 'procedure.resume', 'procedure.completed',
                     'procedure.cancelled') THEN
        UPDATE public_procedure_status SET
            state = CASE p_type WHEN 'procedure.pause' THEN 'paused'
                                WHEN 'procedure.resume' THEN 'running'
                                WHEN 'procedure.completed' THEN 'completed'
                                ELSE 'cancelled' END,
            last_seq = p_seq, updated_at = p_occurred_at
        WHERE procedure_id = p_procedure_id AND last_seq < p_seq;
        IF p_type IN ('procedure.completed', 'procedure.cancelled') THEN
            UPDATE public_phase_periods SET ended_at = p_occurred_at,
                end_reason = CASE p_type WHEN 'procedure.cancelled' THEN 'cancelled'
                                         ELSE end_reason END
            WHERE procedure_id = p_procedure_id AND ended_at IS NULL AND seq < p_seq;
        END IF;
    ELSIF p_type = 'review.published' THEN
        INSERT INTO public_review_reports (procedure_id, seq, phase_id, round, cycle,
            published_at, commitments)
        VALUES (p_procedure_id, p_seq, v_phase, v_round,
            coalesce((body ->> 'cycle')::integer, 1), p_occurred_at,
            coalesce(body -> 'commitments', '{}'::jsonb))
        ON CONFLICT (procedure_id, seq) DO NOTHING;
    END IF;
END;
$$;

-- The read model must never stop the audit log: an event it cannot read is logged as a
-- warning and skipped (the subtransaction of the EXCEPTION block costs only for the few
-- event types the WHEN clause lets through).
CREATE FUNCTION public_read_model_on_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM public_read_model_apply(NEW.procedure_id, NEW.seq, NEW.event_type,
                                        NEW.occurred_at, NEW.payload);
    EXCEPTION WHEN others THEN
        RAISE WARNING 'public read model skipped event % of procedure % seq %: %',
            NEW.event_type, NEW.procedure_id, NEW.seq, SQLERRM;
    END;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_public_read_model AFTER INSERT ON events
    FOR EACH ROW
    WHEN (NEW.event_type IN ('procedure.started', 'phase.changed', 'deadline.extended',
                             'phase.ended', 'procedure.pause', 'procedure.resume',
                             'procedure.completed', 'procedure.cancelled', 'review.published'))
    EXECUTE FUNCTION public_read_model_on_event();

-- Rebuild from the log (after a restore, or if the model ever drifts).
CREATE FUNCTION public_read_model_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    DELETE FROM public_procedure_status;
    DELETE FROM public_phase_periods;
    DELETE FROM public_review_reports;
    FOR e IN
        SELECT procedure_id, seq, event_type, occurred_at, payload FROM events
        WHERE event_type IN ('procedure.started', 'phase.changed', 'deadline.extended',
                             'phase.ended', 'procedure.pause', 'procedure.resume',
                             'procedure.completed', 'procedure.cancelled', 'review.published')
        ORDER BY procedure_id, seq
    LOOP
        PERFORM public_read_model_apply(e.procedure_id, e.seq, e.event_type, e.occurred_at,
                                        e.payload);
    END LOOP;
END;
$$;

SELECT public_read_model_rebuild();
