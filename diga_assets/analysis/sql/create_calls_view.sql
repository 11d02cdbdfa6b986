-- calls, straight from the raw snapshots: every stored call once, as last fetched, with its day
-- and its outcome (see create_stored_calls_view.sql). The analysis database uses it as its calls
-- view only until a curated day exists; then create_curated_calls_view.sql reads the days
-- curated_calls wrote instead, which hold the same rows already computed.
-- A call is fetched again while it may still change (the schedule re-fetches trailing days); a
-- re-fetch replaces its day's file, so the stored row is the last fetched. Should one id be
-- stored under two days, the row with the latest fetched_at is the truth.
--
-- Create stored_calls first; no parameters.
CREATE OR REPLACE VIEW calls AS
SELECT *
FROM stored_calls
QUALIFY row_number() OVER (PARTITION BY id ORDER BY fetched_at DESC, day DESC) = 1;
