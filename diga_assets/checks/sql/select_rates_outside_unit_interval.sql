-- Rows of a metric whose rates and shares (every *_rate and *_share column) fall outside [0, 1] or
-- are NaN. Each is a share of calls, so any such value means the numbers downstream are wrong.
-- Works for every metric with such columns; each row keeps its day and group columns so the check
-- can name them. NULLs (no call to divide by) are fine and are not returned.
--
-- In a shell, replace:
--   $files  the metric files to check, e.g. ['data/metrics/call_outcome_rates/day=2026-11-12/part-0.parquet']
SELECT *
FROM (
    UNPIVOT (SELECT * FROM read_parquet($files, hive_partitioning = false, union_by_name = true))
    ON COLUMNS('_(rate|share)$') INTO NAME rate VALUE value
)
WHERE NOT (value BETWEEN 0 AND 1)
ORDER BY ALL;
