-- curated_calls: one day's calls with their outcome and how it was mapped, in the order the day's
-- file keeps them (by creation time), without the day (the file's folder says it).
--
-- Reads the stored_calls view (create_stored_calls_view.sql) over the day's raw file; no parameters.
SELECT * EXCLUDE (day)
FROM stored_calls
ORDER BY created_date, id;
