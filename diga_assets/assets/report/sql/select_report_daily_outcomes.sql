-- Daily call volume by outcome, for the call report's first chart: one row per (day, outcome).
-- By outcome (through the outcome map), not by status: under Diga's live status model every
-- finished call is `completed`, so a chart by status would be one colour.
--
-- Reads the calls view (create_curated_calls_view.sql); paste as is into `duckdb -readonly data/diga.duckdb`.
SELECT day, outcome, count(*) AS calls
FROM calls
GROUP BY day, outcome
ORDER BY day, outcome;
