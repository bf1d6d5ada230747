-- Statement intake pays for every index on `statements` in each COPYed row. The btree on
-- `procedure_id` cost 0.65-0.8 ms per 1,000-row batch (on top of 1.1 ms for the primary key):
-- about a tenth of a batch's time. Intake writes a procedure's statements in batches, so they
-- lie together on the heap, and readers (public counts, verify, erasure) want all rows of one
-- procedure, never a few: a BRIN index answers that from a summary per range of 16 pages.
--
-- The bloom operator class keeps, per range, a small bloom filter of the procedure ids in it
-- (a range rarely holds more than a few procedures; a false positive costs a range read
-- twice, never a wrong answer). A range is summarised when it is full (`autosummarize`: the
-- next autovacuum round) or by any VACUUM; until then a query reads it whole, so the tail
-- of the table written in the last minute is scanned, never missed. Inserting into an
-- unsummarised range costs nothing, which is where intake writes.
DROP INDEX statements_procedure_idx;
CREATE INDEX statements_procedure_brin ON statements
    USING brin (procedure_id text_bloom_ops (n_distinct_per_range = 16, false_positive_rate = 0.01))
    WITH (pages_per_range = 16, autosummarize = on);
