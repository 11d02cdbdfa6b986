-- curated_calls: the calls of the given days, each once, as last fetched, with its day, outcome
-- and how the outcome was mapped: what the calls view computes from the raw snapshots
-- (create_calls_view.sql), in the order each day's file keeps them (by creation time).
--
-- Reads the raw calls view (create_calls_view.sql). In a shell, replace:
--   $days  the partition days to curate, e.g. [DATE '2026-11-12', DATE '2026-11-13']
SELECT *
FROM calls
WHERE list_contains($days, day)
ORDER BY day, created_date, id;
