-- curated_calls: one day's calls with their outcome and how it was mapped, in the order the day's
-- file keeps them (by creation time), without the day (the file's folder says it). `partial`: the
-- call was fetched before its day ended in the partition time zone (today's refresh), so the day
-- holds the calls so far; the fetch after midnight makes the day whole.
--
-- Reads the stored_calls view (create_stored_calls_view.sql) over the day's raw file. In a shell,
-- replace:
--   $timezone  the partition time zone (DIGA_TIMEZONE), e.g. 'Europe/Madrid'
SELECT
    * EXCLUDE (day),
    fetched_at < timezone($timezone, CAST(day + 1 AS TIMESTAMP)) AS partial
FROM stored_calls
ORDER BY created_date, id;
