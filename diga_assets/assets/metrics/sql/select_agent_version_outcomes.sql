-- agent_version_outcomes: per (day, agent_id, agent_version_id), so a team can see whether a new
-- version of an agent does better than the one before it. Rates divide by the calls that reached
-- a terminal outcome, as in select_call_outcome_rates.sql; the median is continuous, over the
-- calls with a duration. agent_id NULL (calls no agent handled) is a group of its own.
-- ended_calls and completed_calls are kept so a rate and its Wilson interval can be computed over
-- any period (agent_version_comparison), not only per day; the day's own 95% Wilson interval is
-- completion_rate_low / completion_rate_high.
--
-- Reads the calls view (create_curated_calls_view.sql) and the wilson_interval macro. In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH counts AS (
    SELECT
        day,
        agent_id,
        agent_version_id,
        count(*) AS total_calls,
        count(*) FILTER (WHERE outcome = 'completed') AS completed_calls,
        count(*) FILTER (WHERE outcome = 'transferred') AS transferred,
        count(*) FILTER (WHERE outcome IN ('completed', 'failed', 'no_answer', 'transferred', 'voicemail'))
            AS ended_calls,
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
    ended_calls,
    completed_calls,
    CAST(completed_calls / nullif(ended_calls, 0) AS DOUBLE) AS completion_rate,
    wilson_interval(completed_calls, ended_calls).low AS completion_rate_low,
    wilson_interval(completed_calls, ended_calls).high AS completion_rate_high,
    CAST(transferred / nullif(ended_calls, 0) AS DOUBLE) AS transfer_rate,
    CAST(median_duration_s AS DOUBLE) AS median_duration_s
FROM counts
ORDER BY day, agent_id NULLS LAST, agent_version_id NULLS LAST;
