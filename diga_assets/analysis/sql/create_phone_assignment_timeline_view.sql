-- phone_assignment_timeline: the stretches of time each phone kept the same status and agents,
-- as last built by the phone_assignment_timeline asset (one file, rebuilt from all snapshots).
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $metric_glob  the asset's file, e.g. '/srv/diga/data/metrics/phone_assignment_timeline/*.parquet'
CREATE OR REPLACE VIEW phone_assignment_timeline AS
SELECT *
FROM read_parquet($metric_glob, hive_partitioning = false);
