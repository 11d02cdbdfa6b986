-- wilson_interval(successes, trials): the 95% Wilson score interval of a proportion, as a struct
-- {low, high}; NULL when there are no trials. Unlike the normal approximation it stays inside
-- [0, 1] and is honest for small counts and for rates near 0 or 1, which a version's first days
-- have. 1.959963984540054 is the 97.5th percentile of the standard normal distribution.
-- Paste as is.
CREATE OR REPLACE MACRO wilson_interval(successes, trials) AS
CASE WHEN trials > 0 THEN {
    'low': (successes / trials + 1.959963984540054 ^ 2 / (2 * trials)
        - 1.959963984540054 * sqrt(successes / trials * (1 - successes / trials) / trials
            + 1.959963984540054 ^ 2 / (4 * trials ^ 2)))
        / (1 + 1.959963984540054 ^ 2 / trials),
    'high': (successes / trials + 1.959963984540054 ^ 2 / (2 * trials)
        + 1.959963984540054 * sqrt(successes / trials * (1 - successes / trials) / trials
            + 1.959963984540054 ^ 2 / (4 * trials ^ 2)))
        / (1 + 1.959963984540054 ^ 2 / trials)
} END;
