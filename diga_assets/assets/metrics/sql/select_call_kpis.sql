-- call_kpis: the rates a voice-agent operations team runs on, per (day, agent_id, call_type), over
-- the calls that ended (finished_calls: completed, failed, no_answer, transferred or voicemail,
-- by the outcome map; unfinished and unmapped calls say nothing about how calls end).
--   transferred: ended handed over: outcome transferred, or a transcript stored when the metric
--              was computed shows a successful `transfer` tool call (the `transcript_transfers`
--              table, select_transcript_transfers.sql); transfers_from_transcripts counts the
--              ones only the transcript shows (under Diga's live model a transfer is `completed`).
--   contained: ended without a handoff and without failing: the agent dealt with the call itself.
--   answered:  outbound only (NULL for inbound): a person picked up (not no_answer, voicemail or
--              failed), over attempted = the outbound calls that ended.
--   billed:    with the user's tariff (the `tariff` table: one row per call type, analysis/tariff.py),
--              the calls with a duration above 0, their minutes as the tariff rounds them (each
--              call's seconds, or each started minute whole), and their cost: minutes times
--              price_per_minute, rounded half up to a millionth, plus price_per_call per billed
--              call. NULL for a call type the tariff does not price, and everywhere without one.
-- A rate is NULL where its base is 0. agent_id NULL (calls no agent handled) is a group of its own.
--
-- Reads the calls view (create_curated_calls_view.sql), a `tariff` table (call_type,
-- price_per_minute, price_per_call, currency, rounding; empty without a tariff) and a
-- `transcript_transfers` table (call_id; empty without transcripts). In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH priced AS (
    SELECT
        calls.*,
        tariff.currency,
        tariff.price_per_call,
        -- The price of a minute in millionths: exact integers from here to the cost.
        CAST(tariff.price_per_minute * 1000000 AS BIGINT) AS price_per_minute_micros,
        CASE
            WHEN NOT duration > 0 THEN NULL
            WHEN tariff.rounding = 'second' THEN duration
            WHEN tariff.rounding = 'minute' THEN CAST(ceil(duration / 60) AS BIGINT) * 60
        END AS billed_seconds,
        outcome IN ('completed', 'failed', 'no_answer', 'transferred', 'voicemail') AS finished,
        transcript_transfers.call_id IS NOT NULL AS transfer_in_transcript
    FROM calls
    LEFT JOIN tariff ON tariff.call_type = calls.type
    LEFT JOIN transcript_transfers ON transcript_transfers.call_id = calls.id
    WHERE list_contains($days, day)
),
counts AS (
    SELECT
        day,
        agent_id,
        type AS call_type,
        count(*) AS total_calls,
        count(*) FILTER (WHERE finished) AS finished_calls,
        count(*) FILTER (WHERE outcome IN ('completed', 'no_answer', 'voicemail') AND NOT transfer_in_transcript)
            AS contained_calls,
        count(*) FILTER (WHERE finished AND (outcome = 'transferred' OR transfer_in_transcript)) AS transferred_calls,
        count(*) FILTER (WHERE finished AND outcome <> 'transferred' AND transfer_in_transcript)
            AS transfers_from_transcripts,
        count(*) FILTER (WHERE outcome IN ('completed', 'transferred')) AS answered_calls,
        any_value(currency) AS currency,
        any_value(price_per_call) AS price_per_call,
        count(billed_seconds) AS billed_calls,
        coalesce(sum(billed_seconds), 0) AS billed_seconds,
        coalesce(sum(billed_seconds * price_per_minute_micros), 0) AS usage_micros_seconds
    FROM priced
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
    transfers_from_transcripts,
    CAST(transferred_calls / nullif(finished_calls, 0) AS DOUBLE) AS transfer_rate,
    CASE WHEN call_type = 'outbound' THEN finished_calls END AS attempted_calls,
    CASE WHEN call_type = 'outbound' THEN answered_calls END AS answered_calls,
    CASE WHEN call_type = 'outbound' THEN CAST(answered_calls / nullif(finished_calls, 0) AS DOUBLE) END
        AS answer_rate,
    CASE WHEN currency IS NOT NULL THEN billed_calls END AS billed_calls,
    CASE WHEN currency IS NOT NULL THEN CAST(billed_seconds / 60 AS DOUBLE) END AS billed_minutes,
    CASE WHEN currency IS NOT NULL THEN
        CAST(CAST((usage_micros_seconds + 30) // 60 AS DECIMAL(18, 0)) * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6))
        + CAST(billed_calls * price_per_call AS DECIMAL(18, 6))
    END AS cost,
    currency
FROM counts
ORDER BY day, agent_id NULLS LAST, call_type;
