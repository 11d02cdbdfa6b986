-- agents: every agent and version as last observed, so calls and metrics can name them. The API
-- only tells the present, so each diga_agents snapshot is an observation; this keeps, for each
-- (agent, version), its latest one, and gives every row its agent's latest known name (a name
-- observed as NULL later does not erase the one known before). An agent observed without versions
-- has one row with the version columns NULL, until a version of it is observed.
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $agents_glob  the raw agents files, e.g. '/srv/diga/data/raw/agents/date=*/*.parquet'
CREATE OR REPLACE VIEW agents AS
WITH observed AS (
    SELECT * EXCLUDE (date)
    FROM read_parquet($agents_glob, hive_partitioning = true, union_by_name = true)
),
latest AS (
    SELECT *
    FROM observed
    QUALIFY row_number() OVER (PARTITION BY agent_id, version_id ORDER BY observed_at DESC) = 1
),
names AS (
    SELECT agent_id, arg_max(agent_name, observed_at) AS agent_name
    FROM observed
    GROUP BY agent_id
)
SELECT
    latest.agent_id,
    names.agent_name,
    latest.version_id,
    latest.version_name,
    latest.version_number,
    latest.is_published,
    latest.is_draft,
    latest.observed_at
FROM latest
JOIN names USING (agent_id)
WHERE latest.version_id IS NOT NULL
    OR NOT EXISTS (SELECT 1 FROM latest AS versioned WHERE versioned.agent_id = latest.agent_id AND versioned.version_id IS NOT NULL);
