-- call_kpis: every stored day of the call_kpis asset as one relation, with the
-- agent's name beside its id.
-- The asset writes one Parquet file per day; the view reads them all, so a day written after an
-- analyst opened the database shows up at the next query. `day` is a column of the files, so the
-- directory names (day=YYYY-MM-DD) are not read as a second one. Names are joined here, at query
-- time, from the latest agents snapshot (NULL where unknown), so a renamed agent shows its current
-- name on every day.
--
-- Create the agents view first. DuckDB cannot prepare CREATE VIEW, so the project inlines the
-- parameter as a quoted literal. In a shell, replace:
--   $metric_glob  the asset's files, e.g. '/srv/diga/data/metrics/call_kpis/day=*/*.parquet'
CREATE OR REPLACE VIEW call_kpis AS
SELECT day, agent_id, agent_name, COLUMNS(lambda c: c NOT IN ('day', 'agent_id', 'agent_name'))
FROM read_parquet($metric_glob, hive_partitioning = false, union_by_name = true) AS metric
LEFT JOIN (SELECT DISTINCT agent_id, agent_name FROM agents) AS named USING (agent_id);
