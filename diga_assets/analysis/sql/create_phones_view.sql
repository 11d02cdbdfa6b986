-- phones: every stored snapshot of the phone register, one row per phone per observation.
-- The API only tells the present, so history is the sequence of snapshots; `observed_at` is when
-- each was taken and `date` the day it is filed under (one observation may be filed under
-- several days when a range was materialized at once).
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $phones_glob  the raw phone files, e.g. '/srv/diga/data/raw/phones/date=*/*.parquet'
CREATE OR REPLACE VIEW phones AS
SELECT *
FROM read_parquet($phones_glob, hive_partitioning = true, union_by_name = true);
