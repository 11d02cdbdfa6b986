-- Each day's completion rate (all of the day's groups together: completed over the calls that
-- ended) next to the mean, sample standard deviation and number of days with a rate among the
-- $trailing_days days before it. The anomaly check warns when a day falls far below its history;
-- days with no ended calls have no rate and do not count as history.
--
-- In a shell, replace:
--   $files          call_outcome_rates files covering the checked days and the days before them
--   $trailing_days  how many days of history, e.g. 14
WITH daily AS (
    SELECT
        day,
        sum(completed) / nullif(sum(completed + failed + no_answer + transferred + voicemail), 0)
            AS completion_rate
    FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
    GROUP BY day
)
SELECT
    day,
    CAST(completion_rate AS DOUBLE) AS completion_rate,
    avg(completion_rate) OVER history AS trailing_mean,
    stddev_samp(completion_rate) OVER history AS trailing_stddev,
    count(completion_rate) OVER history AS trailing_days
FROM daily
WINDOW history AS (
    ORDER BY day RANGE BETWEEN to_days(CAST($trailing_days AS INTEGER)) PRECEDING AND INTERVAL 1 DAY PRECEDING
)
ORDER BY day;
