-- call_day_audit: each audited day of calls as the latest audit found it: how many calls are
-- stored, how many the API had then, how many stored calls were unfinished when fetched, and
-- whether the day was to be fetched again (action 'refetch', with the reason) or matched ('none').
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $audit_file  the audit's file, e.g. '/srv/diga/data/audit/call_day_audit/part-0.parquet'
CREATE OR REPLACE VIEW call_day_audit AS
SELECT *
FROM read_parquet($audit_file, hive_partitioning = false);
