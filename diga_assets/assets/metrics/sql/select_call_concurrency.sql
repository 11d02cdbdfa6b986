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
-- Every start (+1) and end (-1), under the wall-clock day and hour it happens in.
changes AS (
    SELECT
        CAST(timezone($timezone, instant) AS DATE) AS day,
        hour(timezone($timezone, instant)) AS hour,
        instant,
        change
    FROM (
        SELECT start_time AS instant, 1 AS change FROM spans
        UNION ALL
        SELECT end_time AS instant, -1 AS change FROM spans
    )
),
-- Within each hour, how far the count has risen over its value at the hour's start after each
-- instant (every change at the same instant counted together: RANGE takes the peers).
rises AS (
    SELECT
        day,
        hour,
        sum(change) OVER (PARTITION BY day, hour ORDER BY instant RANGE UNBOUNDED PRECEDING) AS rise
    FROM changes
),
per_hour AS (
    SELECT changes.day, changes.hour, sum(change) AS net, any_value(top.rise) AS top_rise
    FROM changes
    JOIN (SELECT day, hour, max(rise) AS rise FROM rises GROUP BY day, hour) AS top USING (day, hour)
    GROUP BY changes.day, changes.hour
),
-- The wall-clock hours of each day with calls (a day that skips an hour lacks it; the hour the
-- clocks go back comes twice and is one row).
hours AS (
    SELECT DISTINCT day, hour(timezone($timezone, hour_start)) AS hour
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
-- Calls in progress as each hour begins: every change of the hours before it, in order ((day,
-- hour) is the order of time), the day before the first included.
levels AS (
    SELECT
        day,
        hour,
        coalesce(sum(net) OVER (ORDER BY day, hour ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
            AS at_start,
        top_rise
    FROM (SELECT * FROM hours FULL JOIN per_hour USING (day, hour))
),
started AS (
    SELECT
        CAST(timezone($timezone, start_time) AS DATE) AS day,
        hour(timezone($timezone, start_time)) AS hour,
        count(*) AS calls_started
    FROM calls
    WHERE start_time IS NOT NULL
    GROUP BY ALL
)
SELECT
    hours.day,
    hours.hour,
    CAST(coalesce(started.calls_started, 0) AS BIGINT) AS calls_started,
    CAST(levels.at_start + greatest(coalesce(levels.top_rise, 0), 0) AS BIGINT) AS peak_concurrent
FROM hours
JOIN levels USING (day, hour)
LEFT JOIN started USING (day, hour)
ORDER BY hours.day, hours.hour;
