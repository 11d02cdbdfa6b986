-- Rows of a metric whose rates (every *_rate column) fall outside [0, 1] or are NaN. A rate is a
-- share of calls, so any such value means the numbers downstream are wrong. Works for every
-- metric with rate columns; each row keeps its day and group columns so the check can name them.
-- NULL rates (no call ended) are fine and are not returned.
--
-- In a shell, replace:
--   $files  the metric files to check, e.g. ['data/metrics/call_outcome_rates/day=2026-11-12/part-0.parquet']
SELECT *
FROM (
    UNPIVOT (SELECT * FROM read_parquet($files, hive_partitioning = false, union_by_name = true))
    ON COLUMNS('_rate$') INTO NAME rate VALUE value
)
WHERE NOT (value BETWEEN 0 AND 1)
ORDER BY ALL;
