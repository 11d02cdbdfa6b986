-- The days the report shows that are partial (fetched before they ended: today's refresh), with
-- the last time any of their calls was fetched: the report says "so far, as of HH:MM".
--
-- Reads the calls view (create_curated_calls_view.sql); paste as is into `duckdb -readonly data/diga.duckdb`.
SELECT day, max(fetched_at) AS as_of
FROM calls
WHERE partial
GROUP BY day
ORDER BY day;
