-- The 64-bit hashes of call ids stored more than once across the checked files (raw or curated),
-- within one slice of the hashes: the first, and usually the only, read of a duplicate check. A
-- duplicate makes every count downstream wrong, so the check that runs this blocks the metrics.
-- Fixed-size keys keep the grouping small; a long range is checked in passes, each over the ids
-- whose hash falls in one slice (every copy of an id has the same hash, so each duplicate is
-- found whole in one pass). Nothing comes back when no id repeats.
--
-- In a shell, replace:
--   $files   the raw or curated calls files, e.g. ['data/raw/calls/date=2026-11-12/part-0.parquet']
--   $passes  the number of passes (1 for all at once)
--   $pass    this pass, from 0 (0 for all at once)
SELECT hash(id) AS id_hash
FROM read_parquet($files)
WHERE hash(id) % $passes = $pass
GROUP BY id_hash
HAVING count(*) > 1;
