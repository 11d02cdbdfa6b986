-- agents, before any diga_agents snapshot is stored: no rows, the columns of create_agents_view.sql,
-- so the metric views that join it for names can exist (their names are NULL until then).
CREATE OR REPLACE VIEW agents AS
SELECT
    CAST(NULL AS VARCHAR) AS agent_id,
    CAST(NULL AS VARCHAR) AS agent_name,
    CAST(NULL AS VARCHAR) AS version_id,
    CAST(NULL AS VARCHAR) AS version_name,
    CAST(NULL AS BIGINT) AS version_number,
    CAST(NULL AS BOOLEAN) AS is_published,
    CAST(NULL AS BOOLEAN) AS is_draft,
    CAST(NULL AS TIMESTAMPTZ) AS observed_at
WHERE false;
