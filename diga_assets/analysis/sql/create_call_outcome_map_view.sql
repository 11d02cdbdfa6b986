-- call_outcome_map: the (status, end_reason) -> outcome table every outcome metric goes through.
-- Diga's newer API reports every finished call as `completed` and moves the outcome to the free-text
-- end_reason, while the published one has a status per outcome; one mapping covers both. A row
-- with an empty end_reason is the status's default; a row naming an end_reason wins over it.
-- The file is the package's analysis/outcomes.csv, or the CSV that DIGA_OUTCOME_MAP names (the
-- project validates it before this view is created).
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $outcome_map_csv  the CSV's absolute path, e.g. '/srv/diga/diga_assets/analysis/outcomes.csv'
CREATE OR REPLACE VIEW call_outcome_map AS
SELECT status, end_reason, outcome
FROM read_csv(
    $outcome_map_csv,
    header = true,
    auto_detect = false,
    columns = {'status': 'VARCHAR', 'end_reason': 'VARCHAR', 'outcome': 'VARCHAR'}
);
