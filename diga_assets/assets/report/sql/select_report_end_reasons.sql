-- How the stored days' finished calls ended, in the API's own words, for the call report: one row
-- per (status, end_reason) with its calls, their share of the finished calls, the outcome the map
-- gives them and which rule gave it (see select_call_end_reasons.sql). Unfinished calls have no
-- end reason yet and are left out.
--
-- Reads the call_end_reasons view. Paste as is.
WITH reasons AS (
    SELECT status, end_reason, outcome, mapped_by, sum(calls) AS calls
    FROM call_end_reasons
    WHERE outcome <> 'unfinished'
    GROUP BY ALL
)
SELECT status, end_reason, calls, calls / sum(calls) OVER () AS share, outcome, mapped_by
FROM reasons
ORDER BY calls DESC, status, end_reason NULLS FIRST;
