-- The calls whose stored transcript shows the agent handing the call over: a message whose
-- tool_call is the `transfer` call tool (CallToolSchema) with status `success`. A transfer that
-- errored or was cancelled left the caller with the agent, so it is not one. call_kpis counts
-- these calls as transferred whatever the outcome map says, since under Diga's live status model
-- a transferred call can be `completed` with an end reason the map does not name.
--
-- In a shell, replace:
--   $message_files  the days' transcript files, e.g. ['data/raw/messages/date=2026-11-12/part-0.parquet']
SELECT DISTINCT call_id
FROM read_parquet($message_files, hive_partitioning = false, union_by_name = true)
WHERE json_extract_string(tool_call, '$.type') = 'call_tool'
    AND json_extract_string(tool_call, '$.tool_name') = 'transfer'
    AND json_extract_string(tool_call, '$.status') = 'success';
