-- The call ids behind colliding hashes (select_colliding_call_id_hashes.sql) that are stored more
-- than once, with the days that hold them (from the files' folders): read only when some hash
-- collides, to name the duplicates (and to drop a collision of two different ids). The first 20
-- by id.
--
-- In a shell, replace:
--   $files   the raw or curated calls files, e.g. ['data/raw/calls/date=2026-11-12/part-0.parquet']
--   $hashes  the colliding hashes, e.g. [123456789]
WITH stored AS (
    -- The day of a raw (date=) or curated (day=) file, from its folder.
    SELECT id, CAST(regexp_extract(filename, '/(?:date|day)=(\d{4}-\d{2}-\d{2})/', 1) AS DATE) AS date
    FROM read_parquet($files, filename = true)
    WHERE list_contains($hashes, hash(id))
)
SELECT id, count(*) AS copies, list(DISTINCT date ORDER BY date) AS days
FROM stored
GROUP BY id
HAVING count(*) > 1
ORDER BY id
LIMIT 20;
