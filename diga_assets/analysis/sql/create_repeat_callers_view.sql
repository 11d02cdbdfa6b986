-- repeat_callers: every stored day of the repeat_callers asset as one relation. The asset writes
-- one Parquet file per day; the view reads them all, so a day written after an analyst opened the
-- database shows up at the next query. `day` is a column of the files, so the directory names
-- (day=YYYY-MM-DD) are not read as a second one.
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $metric_glob  the asset's files, e.g. '/srv/diga/data/metrics/repeat_callers/day=*/*.parquet'
CREATE OR REPLACE VIEW repeat_callers AS
SELECT *
FROM read_parquet($metric_glob, hive_partitioning = false, union_by_name = true);
