-- Call ids stored more than once across the checked days and their neighbours (raw or curated). A duplicate makes
-- every count downstream wrong, so the check that runs this blocks the metrics.
-- Ids are first grouped by their 64-bit hash (fixed-size keys), then only the colliding ones are
-- compared as text and their days listed: grouping every id as text, with a list of days each,
-- would hold every id of a long backfill in memory at once. The files are re-read rather than
-- kept (NOT MATERIALIZED): reading one column again is cheaper than holding it. A long range is
-- checked in passes, each over the ids whose hash falls in one slice; every copy of an id has the
-- same hash, so each duplicate is found whole in one pass.
--
-- In a shell, replace:
--   $files   the raw or curated calls files, e.g. ['data/raw/calls/date=2026-11-12/part-0.parquet']
--   $passes  the number of passes (1 for all at once)
--   $pass    this pass, from 0 (0 for all at once)
WITH stored AS NOT MATERIALIZED (
    -- The day of a raw (date=) or curated (day=) file, from its folder.
    SELECT id, CAST(regexp_extract(filename, '/(?:date|day)=(\d{4}-\d{2}-\d{2})/', 1) AS DATE) AS date
    FROM read_parquet($files, filename = true)
),
colliding AS (
    SELECT hash(id) AS id_hash FROM stored WHERE hash(id) % $passes = $pass GROUP BY id_hash HAVING count(*) > 1
),
repeated AS (
    SELECT id FROM stored WHERE hash(id) IN (SELECT id_hash FROM colliding)
    GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 20
)
SELECT id, count(*) AS copies, list(DISTINCT date ORDER BY date) AS days
FROM stored SEMI JOIN repeated USING (id)
GROUP BY id
ORDER BY id;
