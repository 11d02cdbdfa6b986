-- Values of enumerated columns (status, type, ...) that the published spec does not list, with
-- how many rows hold each. They are kept as the API sent them (the API evolves); this names them.
-- NULLs are not values and are not returned.
--
-- In a shell, replace:
--   $files    the raw files, e.g. ['data/raw/calls/date=2026-11-12/part-0.parquet']
--   $columns  the enumerated columns, e.g. ['status', 'type']
--   $allowed  what the spec lists, as rows, e.g. [{'column_name': 'status', 'value': 'completed'}]
WITH stored AS (
    UNPIVOT (SELECT COLUMNS(lambda c: list_contains($columns, c)) FROM read_parquet($files))
    ON COLUMNS(*) INTO NAME column_name VALUE value
),
allowed AS (
    SELECT unnest($allowed, recursive := true)
)
SELECT column_name, value, count(*) AS rows
FROM stored ANTI JOIN allowed USING (column_name, value)
GROUP BY ALL
ORDER BY ALL;
