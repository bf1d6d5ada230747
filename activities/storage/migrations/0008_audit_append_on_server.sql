-- One round trip for a statement batch's audit event: lock the procedure's chain head, number
-- the event, build its canonical payload, hash it and move the head, in one call. Intake used
-- to lock and read the head before its COPY and write the event after it (two round trips,
-- and the head locked for the whole batch); now it takes the lock only for the event, so
-- batches of one procedure from several workers COPY side by side and take turns only here.
--
-- The link is the one `canonical.chain_hash` computes: sha256(prev_hash || payload) over
-- UTF-8, as lower-case hex. The caller sends the canonical payload in two parts around the
-- event's seq (`audit.payload_parts`): the keys are sorted, so `"seq":` is followed by the
-- number and then by `,"type":...}`, the only key after it. `civicflow audit verify`
-- recomputes every link in Python, so a difference between the two would not go unnoticed.
CREATE FUNCTION audit_append_event(
    p_procedure_id text,
    p_event_id text,
    p_event_type text,
    p_occurred_at timestamptz,
    p_payload_before_seq text,
    p_payload_after_seq text
) RETURNS TABLE (seq bigint, hash text) LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_payload text;
    v_hash text;
BEGIN
    -- As `audit.lock_head`: the no-op DO UPDATE locks the row, new or existing.
    INSERT INTO audit_heads AS h (procedure_id) VALUES (p_procedure_id)
    ON CONFLICT (procedure_id) DO UPDATE SET last_seq = h.last_seq
    RETURNING h.last_seq + 1, h.last_hash INTO v_seq, v_prev;
    v_payload := p_payload_before_seq || v_seq::text || p_payload_after_seq;
    v_hash := encode(sha256(convert_to(v_prev || v_payload, 'UTF8')), 'hex');
    INSERT INTO events (procedure_id, seq, event_id, event_type, occurred_at, payload,
                        prev_hash, hash)
    VALUES (p_procedure_id, v_seq, p_event_id, p_event_type, p_occurred_at, v_payload,
            v_prev, v_hash);
    UPDATE audit_heads SET last_seq = v_seq, last_hash = v_hash
    WHERE procedure_id = p_procedure_id;
    RETURN QUERY SELECT v_seq, v_hash;
END;
$$;
