-- call_end_reasons: how each day's calls ended, in the API's own words, per (day, agent_id,
-- call_type, status, end_reason), and what the outcome map made of each. Diga's live API reports
-- every finished call as `completed` and puts the outcome in a free-text end_reason whose codes,
-- apart from the voicemail and phone-menu ones, are not published; a code the map does not name
-- falls to the status's default row. mapped_by says which rule gave the outcome: `end_reason` (a
-- row of the map names this status and end_reason), `status` (the status's default row) or `none`
-- (nobody mapped the status: the outcome is `other`). So every end reason is visible, and every
-- guess the map makes is named.
--
-- Reads the calls view (create_curated_calls_view.sql), whose outcome_mapped_by says which rule
-- of the map gave each call's outcome. In a shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
SELECT
    day,
    agent_id,
    type AS call_type,
    status,
    end_reason,
    count(*) AS calls,
    any_value(outcome) AS outcome,
    any_value(outcome_mapped_by) AS mapped_by
FROM calls
WHERE list_contains($days, day)
GROUP BY day, agent_id, type, status, end_reason
ORDER BY day, agent_id NULLS LAST, call_type, status, end_reason NULLS FIRST;
