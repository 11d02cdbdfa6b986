-- Daily call volume by status, for the call report's first chart: one row per (day, status).
-- Status as the API sent it (not the outcome), so a new status shows up as its own colour.
--
-- Reads the calls view (create_curated_calls_view.sql); paste as is into `duckdb -readonly data/diga.duckdb`.
SELECT day, status, count(*) AS calls
FROM calls
GROUP BY day, status
ORDER BY day, status;
