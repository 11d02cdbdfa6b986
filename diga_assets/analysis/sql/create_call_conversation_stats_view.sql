-- call_conversation_stats: every stored day of the call_conversation_stats asset as one relation,
-- with the agent's name beside its id (joined at query time from the latest agents snapshot, NULL
-- where unknown). `day` is a column of the files, so the directory names are not read as a second one.
--
-- Create the agents view first. DuckDB cannot prepare CREATE VIEW, so the project inlines the
-- parameter as a quoted literal. In a shell, replace:
--   $metric_glob  the asset's files, e.g. '/srv/diga/data/metrics/call_conversation_stats/day=*/*.parquet'
CREATE OR REPLACE VIEW call_conversation_stats AS
SELECT day, agent_id, agent_name, COLUMNS(lambda c: c NOT IN ('day', 'agent_id', 'agent_name'))
FROM read_parquet($metric_glob, hive_partitioning = false, union_by_name = true) AS metric
LEFT JOIN (SELECT DISTINCT agent_id, agent_name FROM agents) AS named USING (agent_id);
