-- Calls whose timing contradicts itself: a negative duration, or an end before the start.
--
-- In a shell, replace:
--   $files  the raw calls files, e.g. ['data/raw/calls/date=2026-11-12/part-0.parquet']
SELECT id, duration, start_time, end_time
FROM read_parquet($files)
WHERE duration < 0 OR end_time < start_time
ORDER BY id
LIMIT 20;
