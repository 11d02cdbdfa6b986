-- call_conversation_stats: what the transcripts of each day's finished calls say, per (day,
-- agent_id, call_type): how many have one, how many messages and turns they take, how often the
-- agent calls a tool, how soon it first speaks, and how many callers left after the greeting
-- (at most one user message), and how long the agent takes to answer: a response latency is the
-- time from the caller's last message to the agent's reply that follows it (an assistant message
-- with a user message since the previous assistant one, in the transcript's order: created_date,
-- then id), p50 and p90 over every reply of the group's calls. A finished call without stored
-- messages counts in finished_calls only; the averages, medians and shares are over the calls
-- with a transcript.
--
-- Reads the calls view (create_curated_calls_view.sql) and the call_messages view
-- (create_call_messages_view.sql). In a shell, replace:
--   $days                 the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
--   $unfinished_statuses  the statuses of calls not over yet: ['dialing', 'in_queue', 'in_progress']
WITH per_call AS (
    SELECT
        call_id,
        count(*) AS messages,
        count(*) FILTER (WHERE role = 'user') AS user_messages,
        count(*) FILTER (WHERE role = 'assistant') AS assistant_messages,
        bool_or(role = 'tool' OR tool_call IS NOT NULL) AS called_a_tool,
        min(created_date) FILTER (WHERE role = 'assistant') AS first_assistant_at
    FROM call_messages
    GROUP BY call_id
),
numbered AS (
    SELECT call_id, role, created_date, row_number() OVER (PARTITION BY call_id ORDER BY created_date, id) AS position
    FROM call_messages
),
ordered AS (
    SELECT
        call_id,
        role,
        created_date,
        max(created_date) FILTER (WHERE role = 'user') OVER earlier AS last_user_at,
        max(position) FILTER (WHERE role = 'user') OVER earlier AS last_user_position,
        max(position) FILTER (WHERE role = 'assistant') OVER earlier AS last_assistant_position
    FROM numbered
    WINDOW earlier AS (PARTITION BY call_id ORDER BY position ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
replies AS (
    SELECT call_id, epoch(created_date - last_user_at) AS latency_s
    FROM ordered
    WHERE role = 'assistant' AND last_user_position > coalesce(last_assistant_position, 0)
),
latency AS (
    SELECT
        calls.day,
        calls.agent_id,
        calls.type AS call_type,
        quantile_cont(replies.latency_s, 0.5) AS response_latency_p50_s,
        quantile_cont(replies.latency_s, 0.9) AS response_latency_p90_s
    FROM replies
    JOIN calls ON calls.id = replies.call_id
    WHERE list_contains($days, calls.day) AND NOT list_contains($unfinished_statuses, calls.status)
    GROUP BY calls.day, calls.agent_id, calls.type
),
stats AS (
SELECT
    calls.day,
    calls.agent_id,
    calls.type AS call_type,
    count(*) AS finished_calls,
    count(per_call.call_id) AS calls_with_transcript,
    CAST(avg(per_call.messages) AS DOUBLE) AS messages_per_call_avg,
    CAST(quantile_cont(per_call.messages, 0.5) AS DOUBLE) AS messages_per_call_median,
    CAST(avg(per_call.user_messages) AS DOUBLE) AS user_turns_avg,
    CAST(avg(per_call.assistant_messages) AS DOUBLE) AS assistant_turns_avg,
    avg(CAST(per_call.called_a_tool AS DOUBLE)) AS tool_call_share,
    quantile_cont(epoch(per_call.first_assistant_at - calls.start_time), 0.5) AS first_reply_median_s,
    avg(CAST(per_call.user_messages <= 1 AS DOUBLE)) AS hung_up_after_greeting_share
FROM calls
LEFT JOIN per_call ON per_call.call_id = calls.id
WHERE list_contains($days, calls.day) AND NOT list_contains($unfinished_statuses, calls.status)
GROUP BY calls.day, calls.agent_id, calls.type
)
SELECT
    stats.*,
    CAST(latency.response_latency_p50_s AS DOUBLE) AS response_latency_p50_s,
    CAST(latency.response_latency_p90_s AS DOUBLE) AS response_latency_p90_s
FROM stats
LEFT JOIN latency
    ON latency.day = stats.day
    AND latency.agent_id IS NOT DISTINCT FROM stats.agent_id
    AND latency.call_type = stats.call_type
ORDER BY stats.day, stats.agent_id NULLS LAST, stats.call_type;
