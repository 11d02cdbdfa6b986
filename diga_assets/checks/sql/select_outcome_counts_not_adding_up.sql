-- call_outcome_rates groups whose outcome counts do not add up to total_calls. Every call gets
-- exactly one outcome (call_outcome_map, else 'other'), so a gap means calls were lost or counted
-- twice between the calls view and the file.
--
-- In a shell, replace:
--   $files  the call_outcome_rates files to check, e.g.
--           ['data/metrics/call_outcome_rates/day=2026-11-12/part-0.parquet']
SELECT
    day,
    agent_id,
    call_type,
    total_calls,
    completed + failed + no_answer + transferred + voicemail + unfinished + other_status AS outcome_calls
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
WHERE outcome_calls IS DISTINCT FROM total_calls
ORDER BY day, agent_id NULLS LAST, call_type;
