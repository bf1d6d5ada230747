-- Statement intake is COPY-bound; each index on `statements` slows every batch. Paging by
-- `sequence` within one procedure is served well enough by the primary key's procedure_id
-- prefix plus a sort, so the extra index goes.
DROP INDEX statements_sequence_idx;

-- A batch's `statements.stored` event holds a digest per statement (hex, ~110 bytes each):
-- it barely compresses, so storing it out of line without compression saves intake CPU.
ALTER TABLE events ALTER COLUMN payload SET STORAGE EXTERNAL;
