-- What the transcripts say per agent over the stored days, for the call report and the demo's
-- summary, from the daily
-- call_conversation_stats: calls with a transcript; messages, user turns and the shares as means
-- over those calls (each day weighted by its calls, so they are exact over the period); the
-- agent's first reply and its response latency (p50, p90) as the medians of their daily values
-- (quantiles do not add up across days).
--
-- Reads the call_conversation_stats view. Paste as is.
SELECT
    agent_id,
    coalesce(agent_name, left(agent_id, 8), '(no agent)') AS agent_label,
    sum(finished_calls) AS finished_calls,
    sum(calls_with_transcript) AS calls_with_transcript,
    sum(messages_per_call_avg * calls_with_transcript) / nullif(sum(calls_with_transcript), 0) AS messages_per_call_avg,
    sum(user_turns_avg * calls_with_transcript) / nullif(sum(calls_with_transcript), 0) AS user_turns_avg,
    sum(tool_call_share * calls_with_transcript) / nullif(sum(calls_with_transcript), 0) AS tool_call_share,
    sum(hung_up_after_greeting_share * calls_with_transcript) / nullif(sum(calls_with_transcript), 0)
        AS hung_up_after_greeting_share,
    median(first_reply_median_s) AS first_reply_median_s,
    median(response_latency_p50_s) AS response_latency_p50_s,
    median(response_latency_p90_s) AS response_latency_p90_s
FROM call_conversation_stats
GROUP BY agent_id, agent_name
ORDER BY calls_with_transcript DESC, agent_id NULLS LAST;
