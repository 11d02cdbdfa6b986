-- call_messages: every stored message of every transcript (diga_call_messages), one row per
-- message, with `day`: the day its call is filed under (the raw folder's date). A day fetched
-- again replaces its file, so each call's transcript is there as last fetched. `content` is what
-- was said: personal data.
--
-- DuckDB cannot prepare CREATE VIEW, so the project inlines the parameter as a quoted literal.
-- In a shell, replace:
--   $messages_files  the raw message files: a glob, e.g. '/srv/diga/data/raw/messages/date=*/*.parquet',
--                    or a list of files (a metric run reads only its days)
CREATE OR REPLACE VIEW call_messages AS
SELECT COLUMNS(lambda c: c <> 'date'), date AS day
FROM read_parquet($messages_files, hive_partitioning = true, hive_types = {'date': DATE});
