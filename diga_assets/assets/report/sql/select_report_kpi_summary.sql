-- The report's KPI summary: the last 7 days with the last day that has calls, beside the 7 days
-- before them. One row per period ('this', 'previous'): calls, the containment, transfer and
-- answer rates over the period's calls (sums of counts, not means of daily rates), the share of
-- the days' callers who had called in the 7 days before, the highest peak of concurrent calls,
-- and the cost with its currency (NULL without a tariff).
--
-- Reads the call_kpis, repeat_callers and call_concurrency views. In a shell, replace:
--   $last_day  the last day with calls, e.g. DATE '2026-11-20'
WITH kpis AS (
    SELECT
        CASE WHEN day > $last_day - 7 THEN 'this' ELSE 'previous' END AS period,
        sum(total_calls) AS calls,
        sum(finished_calls) AS finished,
        sum(contained_calls) AS contained,
        sum(transferred_calls) AS transferred,
        sum(attempted_calls) AS attempted,
        sum(answered_calls) AS answered,
        sum(cost) AS cost,
        any_value(currency) AS currency
    FROM call_kpis
    WHERE day > $last_day - 14 AND day <= $last_day
    GROUP BY period
),
repeats AS (
    SELECT
        CASE WHEN day > $last_day - 7 THEN 'this' ELSE 'previous' END AS period,
        sum(repeat_7d) AS repeat_7d,
        sum(callers) AS callers
    FROM repeat_callers
    WHERE day > $last_day - 14 AND day <= $last_day
    GROUP BY period
),
peaks AS (
    SELECT
        CASE WHEN day > $last_day - 7 THEN 'this' ELSE 'previous' END AS period,
        max(peak_concurrent) AS peak_concurrent
    FROM call_concurrency
    WHERE day > $last_day - 14 AND day <= $last_day
    GROUP BY period
)
SELECT
    period,
    CAST(calls AS BIGINT) AS calls,
    CAST(contained / nullif(finished, 0) AS DOUBLE) AS containment_rate,
    CAST(transferred / nullif(finished, 0) AS DOUBLE) AS transfer_rate,
    CAST(answered / nullif(attempted, 0) AS DOUBLE) AS answer_rate,
    CAST(repeat_7d / nullif(callers, 0) AS DOUBLE) AS repeat_7d_share,
    peak_concurrent,
    cost,
    currency
FROM kpis
LEFT JOIN repeats USING (period)
LEFT JOIN peaks USING (period)
ORDER BY period DESC;
