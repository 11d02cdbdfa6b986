-- call_outcome_rates: how each day's calls ended, per (day, agent_id, call_type).
-- Counts: one column per outcome of call_outcome_map; they add up to total_calls.
-- Rates: each terminal outcome's count divided by the calls that reached a terminal outcome
-- (completed + failed + no_answer + transferred + voicemail). Unfinished calls have no outcome
-- yet and 'other' calls have one nobody mapped, so neither says anything about how calls end;
-- counting them would make a day look worse while its calls are still running. A rate is NULL
-- where no call has ended. agent_id NULL (calls no agent handled) is a group of its own.
--
-- Reads the calls view (create_curated_calls_view.sql). In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH counts AS (
    SELECT
        day,
        agent_id,
        type AS call_type,
        count(*) AS total_calls,
        count(*) FILTER (WHERE outcome = 'completed') AS completed,
        count(*) FILTER (WHERE outcome = 'failed') AS failed,
        count(*) FILTER (WHERE outcome = 'no_answer') AS no_answer,
        count(*) FILTER (WHERE outcome = 'transferred') AS transferred,
        count(*) FILTER (WHERE outcome = 'voicemail') AS voicemail,
        count(*) FILTER (WHERE outcome = 'unfinished') AS unfinished,
        count(*) FILTER (WHERE outcome = 'other') AS other_status
    FROM calls
    WHERE list_contains($days, day)
    GROUP BY day, agent_id, type
),
ended AS (
    SELECT *, nullif(completed + failed + no_answer + transferred + voicemail, 0) AS ended_calls
    FROM counts
)
SELECT
    day,
    agent_id,
    call_type,
    total_calls,
    completed,
    failed,
    no_answer,
    transferred,
    voicemail,
    unfinished,
    other_status,
    CAST(completed / ended_calls AS DOUBLE) AS completion_rate,
    CAST(failed / ended_calls AS DOUBLE) AS failure_rate,
    CAST(no_answer / ended_calls AS DOUBLE) AS no_answer_rate,
    CAST(transferred / ended_calls AS DOUBLE) AS transfer_rate,
    CAST(voicemail / ended_calls AS DOUBLE) AS voicemail_rate
FROM ended
ORDER BY day, agent_id NULLS LAST, call_type;
