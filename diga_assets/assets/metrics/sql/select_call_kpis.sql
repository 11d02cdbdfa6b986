-- call_kpis: the rates a voice-agent operations team runs on, per (day, agent_id, call_type), over
-- the calls that ended (finished_calls: completed, failed, no_answer, transferred or voicemail,
-- by the outcome map; unfinished and unmapped calls say nothing about how calls end).
--   contained: ended without a handoff and without failing (every outcome but transferred and
--              failed): the agent dealt with the call itself.
--   answered:  outbound only (NULL for inbound): a person picked up (not no_answer, voicemail or
--              failed), over attempted = the outbound calls that ended.
-- A rate is NULL where its base is 0. agent_id NULL (calls no agent handled) is a group of its own.
--
-- Reads the calls view (create_curated_calls_view.sql). In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH counts AS (
    SELECT
        day,
        agent_id,
        type AS call_type,
        count(*) AS total_calls,
        count(*) FILTER (WHERE outcome IN ('completed', 'failed', 'no_answer', 'transferred', 'voicemail'))
            AS finished_calls,
        count(*) FILTER (WHERE outcome IN ('completed', 'no_answer', 'voicemail')) AS contained_calls,
        count(*) FILTER (WHERE outcome = 'transferred') AS transferred_calls,
        count(*) FILTER (WHERE outcome IN ('completed', 'transferred')) AS answered_calls
    FROM calls
    WHERE list_contains($days, day)
    GROUP BY day, agent_id, type
)
SELECT
    day,
    agent_id,
    call_type,
    total_calls,
    finished_calls,
    contained_calls,
    CAST(contained_calls / nullif(finished_calls, 0) AS DOUBLE) AS containment_rate,
    transferred_calls,
    CAST(transferred_calls / nullif(finished_calls, 0) AS DOUBLE) AS transfer_rate,
    CASE WHEN call_type = 'outbound' THEN finished_calls END AS attempted_calls,
    CASE WHEN call_type = 'outbound' THEN answered_calls END AS answered_calls,
    CASE WHEN call_type = 'outbound' THEN CAST(answered_calls / nullif(finished_calls, 0) AS DOUBLE) END
        AS answer_rate
FROM counts
ORDER BY day, agent_id NULLS LAST, call_type;
