-- The definition's `kind` (bauleitplanung, buergerrat, ...): several definitions share one kind
-- (BauGB §3(1), §3(2) and §4(2) are all land-use planning), and webhooks, mails and the
-- public pages group procedures by it. NULL means "not known": a procedure recorded before
-- this column whose definition is not one of the catalogue's.
ALTER TABLE procedures ADD COLUMN kind text CHECK (kind <> '');

-- Backfill rows recorded before the column existed. A procedure's definition is pinned by
-- its hash, and the catalogue's definitions have had these kinds since they were written, so
-- the mapping is exact for them; any other definition id stays NULL rather than guessed.
-- Only NULL rows are touched, so the statement is harmless on rows that already have a kind.
UPDATE procedures SET kind = CASE definition_id
        WHEN 'baugb-3-1' THEN 'bauleitplanung'
        WHEN 'baugb-3-2' THEN 'bauleitplanung'
        WHEN 'baugb-4-2' THEN 'bauleitplanung'
        WHEN 'beteiligungsantrag' THEN 'beteiligungsantrag'
        WHEN 'buergerhaushalt' THEN 'buergerhaushalt'
        WHEN 'buergerrat' THEN 'buergerrat'
        WHEN 'quartiersdialog' THEN 'quartiersdialog'
    END
WHERE kind IS NULL
  AND definition_id IN ('baugb-3-1', 'baugb-3-2', 'baugb-4-2', 'beteiligungsantrag',
                        'buergerhaushalt', 'buergerrat', 'quartiersdialog');

CREATE INDEX procedures_kind_idx ON procedures (kind);
