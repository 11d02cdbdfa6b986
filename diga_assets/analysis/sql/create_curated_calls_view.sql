-- calls: every stored call once, as last fetched, with its day and its outcome, read from the
-- curated_calls files. Each day's file holds that day's calls already deduplicated, with the
-- outcome the outcome map gave them when the day was curated, so a query reads them as they are:
-- `day` comes from the folder name (day=YYYY-MM-DD), which DuckDB prunes on, so a filter on
-- `day` opens only those days' files. The columns are those of create_calls_view.sql, in the
-- same order (the columns are listed with COLUMNS rather than EXCLUDE, which DuckDB stores in no
-- fixed order, so a refresh would find the view changed every time).
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $curated_files the curated files: a glob, e.g. '/srv/diga/data/curated/calls/day=*/*.parquet',
--                  or a list of files (a metric run reads only its days)
CREATE OR REPLACE VIEW calls AS
SELECT COLUMNS(lambda c: c NOT IN ('day', 'outcome', 'outcome_mapped_by')), day, outcome, outcome_mapped_by
FROM read_parquet($curated_files, hive_partitioning = true, hive_types = {'day': DATE});
