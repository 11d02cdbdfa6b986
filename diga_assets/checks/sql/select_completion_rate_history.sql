-- Each day's completion rate (all of the day's groups together: completed over the calls that
-- ended) next to the mean, sample standard deviation and number of days with a rate among the
-- $trailing_days days before it. The anomaly check warns when a day falls far below its history;
-- days with no ended calls have no rate and do not count as history. A partial day (fetched
-- before it ended: today so far) is neither judged nor history: its rate is of the hours so far.
--
-- In a shell, replace:
--   $files          call_outcome_rates files covering the checked days and the days before them
--   $trailing_days  how many days of history, e.g. 14
WITH stored AS (
    -- Metric days written before the partial column existed read as whole days.
    SELECT CAST(NULL AS BOOLEAN) AS partial WHERE false
    UNION ALL BY NAME
    SELECT * FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
),
daily AS (
    SELECT
        day,
        coalesce(bool_or(partial), false) AS partial,
        sum(completed) / nullif(sum(completed + failed + no_answer + transferred + voicemail), 0)
            AS completion_rate
    FROM stored
    GROUP BY day
),
whole AS (
    SELECT day, partial, completion_rate, CASE WHEN NOT partial THEN completion_rate END AS whole_day_rate
    FROM daily
)
SELECT
    day,
    partial,
    CAST(completion_rate AS DOUBLE) AS completion_rate,
    avg(whole_day_rate) OVER history AS trailing_mean,
    stddev_samp(whole_day_rate) OVER history AS trailing_stddev,
    count(whole_day_rate) OVER history AS trailing_days
FROM whole
WINDOW history AS (
    ORDER BY day RANGE BETWEEN to_days(CAST($trailing_days AS INTEGER)) PRECEDING AND INTERVAL 1 DAY PRECEDING
)
ORDER BY day;
