-- The stored calls of a day that were not created on it in the partition time zone: none unless
-- the day was fetched under another DIGA_TIMEZONE (a day is a window of the zone, so changing the
-- zone changes which calls each stored day should hold). curated_calls refuses such a day rather
-- than file its calls under the wrong day.
--
-- Reads the stored_calls view (create_stored_calls_view.sql) over the day's raw file. In a shell,
-- replace:
--   $timezone  the partition time zone (DIGA_TIMEZONE), e.g. 'Europe/Madrid'
SELECT count(*) AS calls, min(id) AS first_id
FROM stored_calls
WHERE CAST(timezone($timezone, created_date) AS DATE) <> day;
