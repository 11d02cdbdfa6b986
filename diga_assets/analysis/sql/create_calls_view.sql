-- calls, straight from the raw snapshots: every stored call once, as last fetched, with its
-- partition day and its outcome. This is how curated_calls computes each day it writes; the
-- analysis database uses it as its calls view only until a curated day exists (then
-- create_curated_calls_view.sql, which reads the result instead of recomputing it).
-- A call is fetched again while it may still change (the schedule re-fetches trailing days), so
-- the same id can be stored more than once; the row with the latest fetched_at is the truth.
-- `day` is created_date in the partition time zone (the day diga_calls filed it under) and
-- `outcome` comes from call_outcome_map: the exact (status, end_reason) row, else the status's
-- default row, else 'other' (a status nobody mapped yet); `outcome_mapped_by` says which of the
-- three gave it (`end_reason`, `status` or `none`).
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameters as quoted literals.
-- Create call_outcome_map first. In a shell, replace:
--   $calls_files the raw calls files: a glob, e.g. '/srv/diga/data/raw/calls/date=*/*.parquet',
--                or a list of files (a run reads only its days and their neighbours)
--   $timezone    the partition time zone (DIGA_TIMEZONE), e.g. 'Europe/Madrid'
CREATE OR REPLACE VIEW calls AS
WITH latest AS (
    SELECT *
    FROM read_parquet($calls_files, hive_partitioning = true, union_by_name = true)
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY fetched_at DESC, date DESC) = 1
)
SELECT
    latest.* EXCLUDE (date),
    CAST(timezone($timezone, latest.created_date) AS DATE) AS day,
    coalesce(by_reason.outcome, by_status.outcome, 'other') AS outcome,
    CASE
        WHEN by_reason.outcome IS NOT NULL THEN 'end_reason'
        WHEN by_status.outcome IS NOT NULL THEN 'status'
        ELSE 'none'
    END AS outcome_mapped_by
FROM latest
LEFT JOIN call_outcome_map AS by_reason
    ON by_reason.status = latest.status AND by_reason.end_reason = latest.end_reason
LEFT JOIN call_outcome_map AS by_status
    ON by_status.status = latest.status AND by_status.end_reason IS NULL;
