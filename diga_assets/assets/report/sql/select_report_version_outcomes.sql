-- How each agent version's calls ended, over all stored days, for the call report: one row per
-- (agent_id, agent_version_id, outcome) with the calls and their share of the version's calls.
-- From the calls view rather than agent_version_outcomes, because shares over several days need
-- the counts per outcome, which that daily table does not keep.
--
-- Reads the calls view (create_curated_calls_view.sql); paste as is into `duckdb -readonly data/diga.duckdb`.
WITH counted AS (
    SELECT
        coalesce(agent_id, '(no agent)') AS agent_id,
        coalesce(agent_version_id, '(no version)') AS agent_version_id,
        outcome,
        count(*) AS calls
    FROM calls
    GROUP BY ALL
)
SELECT
    agent_id,
    agent_version_id,
    outcome,
    calls,
    calls / sum(calls) OVER (PARTITION BY agent_id, agent_version_id) AS share
FROM counted
ORDER BY agent_id, agent_version_id, outcome;
