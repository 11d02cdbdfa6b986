-- phone_assignment_timeline: one row per stretch of time a phone stayed in the same
-- (status, inbound_agent_id, outbound_agent_id), stitched from every stored snapshot of the
-- register. The API only tells the present, so the snapshots are the only history there is.
--
-- * Consecutive snapshots (by observed_at) with no change in those three fields are one stretch.
-- * A stretch starts at the API's own timestamp where it has one: assigned_at for the stretch in
--   which the phone became assigned, released_at for the one in which it was released. Otherwise
--   (an agent changed, a status the API does not stamp) at the first snapshot that shows it.
--   An API timestamp never moves a start before the previous stretch's last sighting nor after
--   its own first one, so stretches never overlap whatever the clocks say.
-- * valid_to is the next stretch's valid_from. The last stretch is open (NULL) while the phone
--   is still listed; a phone that later snapshots no longer list closes at the first of them.
-- * nickname, number and scheduled_release_at are the values of the stretch's latest snapshot.
--
-- Reads the phones view (create_phones_view.sql); no parameters.
WITH snapshots AS (
    -- One observation can be filed under several days (a range run of diga_phones): keep it once.
    SELECT
        id AS phone_id, number, nickname, status, inbound_agent_id, outbound_agent_id,
        assigned_at, released_at, scheduled_release_at, observed_at
    FROM phones
    QUALIFY row_number() OVER (PARTITION BY id, observed_at ORDER BY date) = 1
),
changes AS (
    SELECT
        *,
        status IS DISTINCT FROM lag(status) OVER by_phone
            OR inbound_agent_id IS DISTINCT FROM lag(inbound_agent_id) OVER by_phone
            OR outbound_agent_id IS DISTINCT FROM lag(outbound_agent_id) OVER by_phone AS starts_stretch
    FROM snapshots
    WINDOW by_phone AS (PARTITION BY phone_id ORDER BY observed_at)
),
numbered AS (
    SELECT
        *,
        sum(CAST(starts_stretch AS INTEGER)) OVER (
            PARTITION BY phone_id ORDER BY observed_at ROWS UNBOUNDED PRECEDING
        ) AS stretch_no
    FROM changes
),
stretches AS (
    SELECT
        phone_id,
        stretch_no,
        status,
        inbound_agent_id,
        outbound_agent_id,
        last(number ORDER BY observed_at) AS number,
        last(nickname ORDER BY observed_at) AS nickname,
        last(scheduled_release_at ORDER BY observed_at) AS scheduled_release_at,
        last(assigned_at ORDER BY observed_at) AS assigned_at,
        last(released_at ORDER BY observed_at) AS released_at,
        min(observed_at) AS first_observed_at,
        max(observed_at) AS last_observed_at
    FROM numbered
    GROUP BY phone_id, stretch_no, status, inbound_agent_id, outbound_agent_id
),
neighbours AS (
    SELECT
        *,
        lag(status) OVER by_phone AS previous_status,
        lag(last_observed_at) OVER by_phone AS previous_last_observed_at
    FROM stretches
    WINDOW by_phone AS (PARTITION BY phone_id ORDER BY stretch_no)
),
starts AS (
    SELECT
        *,
        CASE
            WHEN status = 'assigned' AND previous_status IS DISTINCT FROM 'assigned' THEN assigned_at
            WHEN status = 'released' AND previous_status IS DISTINCT FROM 'released' THEN released_at
        END AS api_started_at
    FROM neighbours
),
bounded AS (
    SELECT
        *,
        CASE
            WHEN api_started_at IS NULL THEN first_observed_at
            ELSE least(first_observed_at, greatest(api_started_at, previous_last_observed_at))
        END AS valid_from
    FROM starts
),
observations AS (
    SELECT DISTINCT observed_at FROM snapshots
),
vanished AS (
    -- The first snapshot after a phone's last sighting, for phones that later snapshots omit.
    SELECT last_seen.phone_id, min(observations.observed_at) AS vanished_at
    FROM (SELECT phone_id, max(observed_at) AS seen_at FROM snapshots GROUP BY phone_id) AS last_seen
    JOIN observations ON observations.observed_at > last_seen.seen_at
    GROUP BY last_seen.phone_id
)
SELECT
    bounded.phone_id,
    number,
    nickname,
    status,
    inbound_agent_id,
    outbound_agent_id,
    scheduled_release_at,
    valid_from,
    coalesce(lead(valid_from) OVER by_phone, vanished.vanished_at) AS valid_to,
    first_observed_at,
    last_observed_at
FROM bounded
LEFT JOIN vanished ON vanished.phone_id = bounded.phone_id
WINDOW by_phone AS (PARTITION BY bounded.phone_id ORDER BY stretch_no)
ORDER BY bounded.phone_id, valid_from;
