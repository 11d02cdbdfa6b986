-- The headline numbers of each day, over all its calls (not combined from groups: a day's median
-- cannot be rebuilt from its groups' medians). The metric assets attach them to each day's
-- materialization as numbers, so the Dagster UI plots them across partitions. Every requested
-- day gets a row, a day without calls included (counts 0, rates and durations NULL).
--
-- Reads the calls view (create_curated_calls_view.sql). In a shell, replace:
--   $days  the partition days, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH requested AS (
    SELECT DISTINCT unnest($days) AS day
),
counts AS (
    SELECT
        day,
        count(*) AS total_calls,
        count(*) FILTER (WHERE outcome = 'completed') AS completed,
        count(*) FILTER (WHERE outcome = 'failed') AS failed,
        count(*) FILTER (WHERE outcome = 'transferred') AS transferred,
        count(*) FILTER (WHERE outcome IN ('completed', 'failed', 'no_answer', 'transferred', 'voicemail'))
            AS ended_calls,
        count(duration) AS calls_with_duration,
        quantile_cont(duration, 0.5) AS median_duration_s,
        quantile_cont(duration, 0.9) AS p90_duration_s,
        count(DISTINCT agent_version_id) AS agent_versions,
        count(DISTINCT end_reason) AS end_reasons
    FROM calls
    WHERE list_contains($days, day)
    GROUP BY day
)
SELECT
    requested.day,
    coalesce(total_calls, 0) AS total_calls,
    coalesce(ended_calls, 0) AS ended_calls,
    CAST(completed / nullif(ended_calls, 0) AS DOUBLE) AS completion_rate,
    CAST(failed / nullif(ended_calls, 0) AS DOUBLE) AS failure_rate,
    CAST(transferred / nullif(ended_calls, 0) AS DOUBLE) AS transfer_rate,
    coalesce(calls_with_duration, 0) AS calls_with_duration,
    CAST(median_duration_s AS DOUBLE) AS median_duration_s,
    CAST(p90_duration_s AS DOUBLE) AS p90_duration_s,
    coalesce(agent_versions, 0) AS agent_versions,
    coalesce(end_reasons, 0) AS end_reasons
FROM requested
LEFT JOIN counts ON counts.day = requested.day
ORDER BY requested.day;
