-- call_day_audit: what the stored raw calls say of each audited day, to compare with the count the
-- API gives now. The API is asked, as diga_calls asks it, for the day's window widened by a second
-- on each side: the spec says neither whether start_/end_created_date are inclusive nor how finely
-- the API compares instants. Under every reading that count takes in every call from the day's
-- start to a second after its end (surely_counted), and at most the calls from a second before
-- the start to two seconds after the end; an unchanged day's count lies between the two.
-- Unfinished calls are counted apart: stale ones (created before $stale_before, and dialing,
-- queued or in progress when fetched) have surely changed since.
--
-- Reads the relation windows (day DATE, start_at and end_at TIMESTAMPTZ in UTC, one row per
-- audited day). In a shell, create it, e.g.
--   CREATE TABLE windows AS SELECT DATE '2026-11-03' AS day,
--       TIMESTAMPTZ '2026-11-02 23:00:00+00' AS start_at, TIMESTAMPTZ '2026-11-03 23:00:00+00' AS end_at;
-- and replace:
--   $files         the raw call files of those days and of the days before and after each,
--                  e.g. ['/srv/diga/data/raw/calls/date=2026-11-03/part-0.parquet', ...]
--   $stale_before  an instant, e.g. TIMESTAMPTZ '2026-11-20 09:00:00+00'
--   $unfinished    the unfinished statuses, ['dialing', 'in_queue', 'in_progress']
WITH stored AS (
    SELECT id, created_date, status FROM read_parquet($files)
),
near_the_day AS (
    SELECT
        w.day,
        c.id,
        c.created_date >= w.start_at AND c.created_date < w.end_at AS on_the_day,
        c.created_date >= w.start_at AND c.created_date < w.end_at + INTERVAL 1 SECOND AS surely_counted,
        list_contains($unfinished, c.status) AS unfinished,
        c.created_date < $stale_before AS old
    FROM windows AS w
    LEFT JOIN stored AS c
        ON c.created_date >= w.start_at - INTERVAL 1 SECOND AND c.created_date < w.end_at + INTERVAL 2 SECOND
)
SELECT
    day,
    count(DISTINCT id) FILTER (WHERE on_the_day) AS stored_calls,
    count(DISTINCT id) FILTER (WHERE surely_counted) AS fewest_expected,
    count(DISTINCT id) AS most_expected,
    count(DISTINCT id) FILTER (WHERE on_the_day AND unfinished) AS stored_unfinished,
    count(DISTINCT id) FILTER (WHERE on_the_day AND unfinished AND old) AS stale_unfinished
FROM near_the_day
GROUP BY day
ORDER BY day;
