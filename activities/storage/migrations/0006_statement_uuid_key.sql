-- Statement intake is bound by the primary key of `statements`: every COPYed row descends
-- a btree on random uuid5 ids. Stored as `text` in a (procedure_id, statement_id) key, each
-- comparison ran the collation over ~50 bytes; as `uuid` (16 bytes, compared with memcmp) on
-- its own, the key costs about half as much per row. The id is a uuid5 of the procedure id and
-- the statement's idempotency key (`records.stable_id`), so it is unique across procedures
-- and the narrower key enforces the same idempotency.
-- Readers select a procedure's statements by `procedure_id` (public counts, verify, intake's
-- duplicate lookup): `statements_procedure_idx` serves them. Its entries for one procedure
-- share a key, which btree deduplication stores once per page, and new entries go to the
-- right end of that key's range, so it costs intake far less than the composite key did.

-- Every id civicflow ever wrote is a canonical (lower-case) uuid5; anything else would be
-- silently rewritten by the cast below, so it stops the migration with the row named.
DO $$
DECLARE
    bad record;
BEGIN
    SELECT procedure_id, statement_id INTO bad FROM statements
    WHERE statement_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'statements.statement_id % (procedure %): expected a lower-case uuid '
            '(records.stable_id); convert or remove such rows before this migration',
            quote_literal(bad.statement_id), quote_literal(bad.procedure_id);
    END IF;
END;
$$;

ALTER TABLE statements DROP CONSTRAINT statements_pkey;
ALTER TABLE statements ALTER COLUMN statement_id TYPE uuid USING statement_id::uuid;
ALTER TABLE statements ADD CONSTRAINT statements_pkey PRIMARY KEY (statement_id);
CREATE INDEX statements_procedure_idx ON statements (procedure_id);
