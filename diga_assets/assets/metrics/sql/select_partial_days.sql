-- The days of a metric run that hold calls fetched before the day ended (today's refresh): their
-- metrics are the day so far, and say so in their `partial` column.
--
-- Reads the calls view (create_curated_calls_view.sql). In a shell, replace:
--   $days  the partition days, e.g. [DATE '2026-12-06', DATE '2026-12-07']
SELECT DISTINCT day
FROM calls
WHERE list_contains($days, day) AND partial
ORDER BY day;
