-- The report's load chart: per (weekday, hour) in the partition time zone, the mean calls
-- started per day and the highest peak of concurrent calls, over every stored day of
-- call_concurrency. isodow: 1 is Monday.
--
-- Reads the call_concurrency view; paste as is into `duckdb -readonly data/diga.duckdb`.
SELECT
    isodow(day) AS weekday,
    hour,
    CAST(avg(calls_started) AS DOUBLE) AS calls_started_avg,
    max(peak_concurrent) AS peak_concurrent
FROM call_concurrency
GROUP BY weekday, hour
ORDER BY weekday, hour;
