-- call_duration_stats: how long each day's calls lasted, per (day, agent_id, call_type), over the
-- calls with a duration (the API sets it when a call ends). Quantiles are continuous (linear
-- interpolation between the two nearest durations), so a median of 60 and 61 is 60.5.
-- agent_id NULL (calls no agent handled) is a group of its own.
--
-- Reads the calls view (create_curated_calls_view.sql). In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
SELECT
    day,
    agent_id,
    type AS call_type,
    count(*) AS calls_with_duration,
    CAST(avg(duration) AS DOUBLE) AS avg_duration_s,
    CAST(quantile_cont(duration, 0.5) AS DOUBLE) AS median_duration_s,
    CAST(quantile_cont(duration, 0.9) AS DOUBLE) AS p90_duration_s,
    max(duration) AS max_duration_s,
    CAST(sum(duration) AS BIGINT) AS total_duration_s
FROM calls
WHERE duration IS NOT NULL AND list_contains($days, day)
GROUP BY day, agent_id, type
ORDER BY day, agent_id NULLS LAST, call_type;
