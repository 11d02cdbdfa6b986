-- call_concurrency: the load on the line, per (day, hour) in the partition time zone: the calls
-- that started in the hour, and the most calls in progress at any instant of it. A call is in
-- progress over [start_time, end_time), so one ending at the instant another starts does not
-- overlap it; calls without both times (never answered, or still going when fetched) are not
-- counted in progress. Every call the run read counts, whichever day it is filed under, so a call
-- started before midnight is in progress in the next day's first hour. `hour` is the wall-clock
-- hour (0-23): a day that turns the clocks back has two real hours under one `hour`, whose row
-- covers both; a day that skips an hour has no row for it. A day without calls has no rows.
--
-- Reads the calls view (create_curated_calls_view.sql), with the day before the first day in it
-- for the calls in progress at midnight. In a shell, replace:
--   $days      the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
--   $timezone  the partition time zone, e.g. 'Europe/Madrid'
WITH spans AS (
    SELECT start_time, end_time
    FROM calls
    WHERE start_time IS NOT NULL AND end_time > start_time
),
-- How many calls are in progress from each instant a call starts or ends until the next one.
changes AS (
    SELECT instant, sum(change) AS change
    FROM (
        SELECT start_time AS instant, 1 AS change FROM spans
        UNION ALL
        SELECT end_time AS instant, -1 AS change FROM spans
    )
    GROUP BY instant
),
levels AS (
    SELECT instant, sum(change) OVER (ORDER BY instant) AS in_progress
    FROM changes
),
-- Each real hour of each day with calls: its first instant, and its wall-clock day and hour.
hours AS (
    SELECT day, hour_start, hour(timezone($timezone, hour_start)) AS hour
    FROM (
        SELECT
            day,
            unnest(
                generate_series(
                    timezone($timezone, day::TIMESTAMP),
                    timezone($timezone, (day + 1)::TIMESTAMP) - INTERVAL 1 HOUR,
                    INTERVAL 1 HOUR
                )
            ) AS hour_start
        FROM (SELECT DISTINCT day FROM calls WHERE list_contains($days, day))
    )
),
-- In progress as each real hour begins: the level the last change at or before it set.
at_hour_start AS (
    SELECT hours.day, hours.hour, levels.in_progress
    FROM hours ASOF LEFT JOIN levels ON hours.hour_start >= levels.instant
),
-- The highest level a change inside the hour sets, by the change's wall-clock day and hour.
within_hour AS (
    SELECT
        CAST(timezone($timezone, instant) AS DATE) AS day,
        hour(timezone($timezone, instant)) AS hour,
        max(in_progress) AS in_progress
    FROM levels
    WHERE CAST(timezone($timezone, instant) AS DATE) IN (SELECT DISTINCT day FROM hours)
    GROUP BY ALL
),
started AS (
    SELECT
        CAST(timezone($timezone, start_time) AS DATE) AS day,
        hour(timezone($timezone, start_time)) AS hour,
        count(*) AS calls_started
    FROM calls
    WHERE start_time IS NOT NULL
    GROUP BY ALL
),
peaks AS (
    SELECT day, hour, max(in_progress) AS in_progress
    FROM (SELECT * FROM at_hour_start UNION ALL BY NAME SELECT * FROM within_hour)
    GROUP BY day, hour
)
SELECT
    hours.day,
    hours.hour,
    CAST(coalesce(any_value(started.calls_started), 0) AS BIGINT) AS calls_started,
    CAST(coalesce(any_value(peaks.in_progress), 0) AS BIGINT) AS peak_concurrent
FROM (SELECT DISTINCT day, hour FROM hours) AS hours
LEFT JOIN peaks USING (day, hour)
LEFT JOIN started USING (day, hour)
GROUP BY hours.day, hours.hour
ORDER BY hours.day, hours.hour;
