-- Completion rate per day over all agents and call types, for the call report. Rebuilt from the
-- counts of call_outcome_rates (not by averaging its rates, which would weigh a group of 3 calls
-- like a group of 300): completed calls over calls that ended.
--
-- Reads the call_outcome_rates view; paste as is into `duckdb -readonly data/diga.duckdb`.
SELECT
    day,
    sum(total_calls) AS total_calls,
    CAST(sum(completed) / nullif(sum(completed + failed + no_answer + transferred + voicemail), 0) AS DOUBLE)
        AS completion_rate
FROM call_outcome_rates
GROUP BY day
ORDER BY day;
