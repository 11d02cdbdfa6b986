-- Completed calls whose end_reason the outcome map does not name: Diga's live API reports every
-- finished call as `completed`, so such a call was counted as the status's default (usually
-- `completed`) whatever really happened. Each code, with its calls and what it was counted as.
--
-- In a shell, replace:
--   $files  the call_end_reasons files, e.g. ['data/metrics/call_end_reasons/day=2026-11-12/part-0.parquet']
SELECT end_reason, sum(calls) AS calls, any_value(outcome) AS counted_as
FROM read_parquet($files, hive_partitioning = false)
WHERE status = 'completed' AND end_reason IS NOT NULL AND mapped_by <> 'end_reason'
GROUP BY end_reason
ORDER BY calls DESC, end_reason;
