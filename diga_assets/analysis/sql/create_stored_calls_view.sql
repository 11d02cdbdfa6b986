-- stored_calls: every stored raw call row, with its day and its outcome. `day` is the partition
-- the row is filed under: diga_calls keeps in each day exactly the calls created in that day's
-- window of the partition time zone, so it is the call's day. `outcome` comes from
-- call_outcome_map: the exact (status, end_reason) row, else the status's default row, else
-- 'other' (a status nobody mapped yet); `outcome_mapped_by` says which of the three gave it
-- (`end_reason`, `status` or `none`). A call fetched into two days (its created_date was
-- corrected, say) has a row in each: the calls view keeps the latest, and the blocking
-- call_ids_unique checks stop such days before they are curated.
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- Create call_outcome_map first. In a shell, replace:
--   $calls_files the raw calls files: a glob, e.g. '/srv/diga/data/raw/calls/date=*/*.parquet',
--                or a list of files (curated_calls reads one day's)
CREATE OR REPLACE VIEW stored_calls AS
SELECT
    stored.* EXCLUDE (date),
    stored.date AS day,
    coalesce(by_reason.outcome, by_status.outcome, 'other') AS outcome,
    CASE
        WHEN by_reason.outcome IS NOT NULL THEN 'end_reason'
        WHEN by_status.outcome IS NOT NULL THEN 'status'
        ELSE 'none'
    END AS outcome_mapped_by
FROM read_parquet($calls_files, hive_partitioning = true, union_by_name = true) AS stored
LEFT JOIN call_outcome_map AS by_reason
    ON by_reason.status = stored.status AND by_reason.end_reason = stored.end_reason
LEFT JOIN call_outcome_map AS by_status
    ON by_status.status = stored.status AND by_status.end_reason IS NULL;
