-- How many rows hold NULL in each column the spec requires; one output column per checked column.
--
-- In a shell, replace:
--   $files    the raw files, e.g. ['data/raw/calls/date=2026-11-12/part-0.parquet']
--   $columns  the required columns, e.g. ['id', 'status', 'type', 'created_date']
SELECT count_if(COLUMNS(lambda c: list_contains($columns, c)) IS NULL)
FROM read_parquet($files);
