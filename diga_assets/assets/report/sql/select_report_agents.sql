-- The names the call report shows: each agent and version as last observed (the agents view).
--
-- Reads the agents view. Paste as is.
SELECT agent_id, agent_name, version_id, version_name, version_number
FROM agents
ORDER BY agent_id, version_number NULLS LAST;
