-- The report's repeat-caller chart: per day, the callers of every call type and how many had
-- called within the 24 hours and 7 days before.
--
-- Reads the repeat_callers view; paste as is into `duckdb -readonly data/diga.duckdb`.
SELECT
    day,
    CAST(sum(callers) AS BIGINT) AS callers,
    CAST(sum(repeat_24h) AS BIGINT) AS repeat_24h,
    CAST(sum(repeat_7d) AS BIGINT) AS repeat_7d
FROM repeat_callers
GROUP BY day
ORDER BY day;
