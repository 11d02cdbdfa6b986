-- agent_version_comparison(from_day, to_day): does a new version of an agent do better than the
-- one before it, beyond chance? One row per (agent, version) with calls between from_day and to_day
-- (inclusive): its completion rate over the calls that ended, the rate's 95% Wilson interval, and
-- a pooled two-proportion z test against the agent's previous version (by version_number, else by
-- the first day it handled a call). differs_from_previous is true when |z| >= 1.96 (5% level,
-- two-sided). A few hundred calls a day make daily rates mostly noise; this is the question asked
-- over a period, with the uncertainty said out loud. Comparing many pairs at once still finds some
-- "differences" by chance: one in twenty at this level.
--
-- Reads agent_version_outcomes and the wilson_interval and two_proportion_z macros.
-- Paste as is; then e.g. SELECT * FROM agent_version_comparison(DATE '2026-11-01', DATE '2026-11-30').
CREATE OR REPLACE MACRO agent_version_comparison(from_day, to_day) AS TABLE
WITH period AS (
    SELECT
        agent_id,
        any_value(agent_name) AS agent_name,
        agent_version_id,
        any_value(version_name) AS version_name,
        any_value(version_number) AS version_number,
        min(day) AS first_day,
        max(day) AS last_day,
        sum(total_calls) AS total_calls,
        sum(ended_calls) AS ended_calls,
        sum(completed_calls) AS completed_calls
    FROM agent_version_outcomes
    WHERE day BETWEEN from_day AND to_day
    GROUP BY agent_id, agent_version_id
),
ordered AS (
    SELECT
        *,
        lag(agent_version_id) OVER versions AS previous_version_id,
        lag(completed_calls) OVER versions AS previous_completed,
        lag(ended_calls) OVER versions AS previous_ended
    FROM period
    WINDOW versions AS (
        PARTITION BY agent_id ORDER BY version_number NULLS LAST, first_day, agent_version_id NULLS LAST
    )
)
SELECT
    agent_id,
    agent_name,
    agent_version_id,
    version_name,
    version_number,
    first_day,
    last_day,
    total_calls,
    ended_calls,
    completed_calls,
    CASE WHEN ended_calls > 0 THEN completed_calls / ended_calls END AS completion_rate,
    wilson_interval(completed_calls, ended_calls).low AS completion_rate_low,
    wilson_interval(completed_calls, ended_calls).high AS completion_rate_high,
    previous_version_id,
    two_proportion_z(previous_completed, previous_ended, completed_calls, ended_calls) AS z_vs_previous,
    coalesce(abs(two_proportion_z(previous_completed, previous_ended, completed_calls, ended_calls)) >= 1.959963984540054, false)
        AS differs_from_previous
FROM ordered
ORDER BY agent_name NULLS LAST, agent_id NULLS LAST, version_number NULLS LAST, first_day;
