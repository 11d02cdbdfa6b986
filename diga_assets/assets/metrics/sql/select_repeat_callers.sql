-- repeat_callers: per (day, call_type), the distinct contacts with a call that day, and how many
-- of them had a call of the same type before one of that day's calls, within 24 hours and within
-- 7 days (by created_date; a second call the same day counts). Contacts are told apart by
-- contact_identifier, the number or web id (its keyed hash when contacts are pseudonymized, the
-- same hash for the same contact on every day). Backward-looking: a day's figures are final once
-- the 7 days before it are stored, and never change when later days arrive.
--
-- Reads the calls view (create_curated_calls_view.sql), with the 8 days before the first day in it
-- (7 days of 24 hours reach into an eighth calendar day across a change of the clocks). In a
-- shell, replace:
--   $days  the partition days to compute, e.g. [DATE '2026-11-12', DATE '2026-11-13']
WITH contact_calls AS (
    SELECT
        day,
        type AS call_type,
        contact_identifier,
        created_date - lag(created_date) OVER (
            PARTITION BY contact_identifier, type ORDER BY created_date, id
        ) AS since_previous
    FROM calls
    WHERE contact_identifier IS NOT NULL
),
-- Each contact of each day once, with the shortest wait before one of its calls that day.
day_contacts AS (
    SELECT day, call_type, contact_identifier, min(since_previous) AS closest_previous
    FROM contact_calls
    WHERE list_contains($days, day)
    GROUP BY day, call_type, contact_identifier
)
SELECT
    day,
    call_type,
    count(*) AS callers,
    count(*) FILTER (WHERE closest_previous <= INTERVAL 24 HOUR) AS repeat_24h,
    count(*) FILTER (WHERE closest_previous <= INTERVAL 7 DAY) AS repeat_7d
FROM day_contacts
GROUP BY day, call_type
ORDER BY day, call_type;
