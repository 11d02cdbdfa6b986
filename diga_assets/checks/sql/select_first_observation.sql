-- When a stored phone snapshot was observed (every row of one snapshot has the same observed_at).
--
-- In a shell, replace:
--   $file  one phone snapshot, e.g. 'data/raw/phones/date=2026-11-12/part-0.parquet'
SELECT min(observed_at) AS observed_at
FROM read_parquet($file);
