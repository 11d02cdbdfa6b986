-- agent_version_outcomes: per (day, agent_id, agent_version_id), so a team can see whether a new
-- version of an agent does better than the one before it. Rates divide by the calls that reached
-- a terminal outcome, as in select_call_outcome_rates.sql; the median is continuous, over the
-- calls with a duration. agent_id NULL (calls no agent handled) is a group of its own.
--
-- Reads the calls view (create_calls_view.sql). In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH counts AS (
    SELECT
        day,
        agent_id,
        agent_version_id,
        count(*) AS total_calls,
        count(*) FILTER (WHERE outcome = 'completed') AS completed,
        count(*) FILTER (WHERE outcome = 'transferred') AS transferred,
        nullif(
            count(*) FILTER (WHERE outcome IN ('completed', 'failed', 'no_answer', 'transferred', 'voicemail')), 0
        ) AS ended_calls,
        quantile_cont(duration, 0.5) AS median_duration_s
    FROM calls
    WHERE list_contains($days, day)
    GROUP BY day, agent_id, agent_version_id
)
SELECT
    day,
    agent_id,
    agent_version_id,
    total_calls,
    CAST(completed / ended_calls AS DOUBLE) AS completion_rate,
    CAST(transferred / ended_calls AS DOUBLE) AS transfer_rate,
    CAST(median_duration_s AS DOUBLE) AS median_duration_s
FROM counts
ORDER BY day, agent_id NULLS LAST, agent_version_id NULLS LAST;
