-- The hours of call_concurrency whose peak of concurrent calls reached the plan's cap: calls
-- beyond it are refused or queued by the platform, so these are the hours to plan capacity for.
--
-- In a shell, replace:
--   $files  the metric files to check, e.g. ['data/metrics/call_concurrency/day=2026-11-12/part-0.parquet']
--   $limit  the cap on concurrent calls (DIGA_CONCURRENCY_LIMIT), e.g. 10
SELECT day, hour, peak_concurrent
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
WHERE peak_concurrent >= $limit
ORDER BY day, hour;
