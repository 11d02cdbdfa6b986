-- two_proportion_z(successes_a, trials_a, successes_b, trials_b): the pooled two-proportion z
-- statistic of b's rate against a's (positive: b is higher). |z| >= 1.96 means the two rates
-- differ beyond chance at the 5% level (two-sided); NULL when either has no trials or the pooled
-- rate is 0 or 1 (then there is nothing to tell apart).
-- Paste as is.
CREATE OR REPLACE MACRO two_proportion_z(successes_a, trials_a, successes_b, trials_b) AS
CASE
    WHEN trials_a > 0 AND trials_b > 0
        AND (successes_a + successes_b) > 0 AND (successes_a + successes_b) < (trials_a + trials_b)
    THEN (successes_b / trials_b - successes_a / trials_a)
        / sqrt((successes_a + successes_b) / (trials_a + trials_b)
            * (1 - (successes_a + successes_b) / (trials_a + trials_b))
            * (1 / trials_a + 1 / trials_b))
END;
