-- tests/a4_independent.sql: the A4 customer health rule (docs/analyses/A4.md) in plain SQLite
-- SQL, written from the document without reference to any C code, to cross-check the A4 plugin
-- and the generator's planted truth.
--
-- Prints one row per account of salesforce_account_d, ordered by account:
--   sf_account_id | U | S | E | P | health | band
-- components and health rounded to 4 decimals; band is healthy, watch or at_risk.
--
-- The analysis date is the one date literal in the params CTE below (it occurs nowhere else in
-- this file); a test may replace it with  sed "s/'<that date>' AS as_of/'$D' AS as_of/".
-- The other parameters are the rule's defaults.

WITH
params AS (SELECT '2026-11-01' AS as_of, 3 AS trend_months, 20.0 AS trend_full_pct,
                  90 AS window_days, 6 AS slack_target, 60 AS silent_days, 60 AS stall_days,
                  0.40 AS w_u, 0.25 AS w_s, 0.20 AS w_e, 0.15 AS w_p,
                  60.0 AS healthy_min, 35.0 AS watch_min),

bounds AS (
    SELECT p.*,
           julianday(date(as_of))                                                    AS as_of_jd,
           date(as_of, 'start of month', '-' || (2 * trend_months) || ' months')    AS prev_start,
           date(as_of, 'start of month', '-' || trend_months || ' months')          AS last_start,
           date(as_of, 'start of month')                                             AS last_end,
           date(as_of, '-' || window_days || ' days')                                AS window_start
    FROM params AS p
),

-- engine_hours of the last trend_months complete months, and of as many months before
usage_halves AS (
    SELECT c.sf_account_id,
           TOTAL(CASE WHEN date(c.consumption_date) >= b.last_start THEN c.engine_hours END) AS last3,
           TOTAL(CASE WHEN date(c.consumption_date) <  b.last_start THEN c.engine_hours END) AS prev3
    FROM consumption_daily_d AS c CROSS JOIN bounds AS b
    WHERE date(c.consumption_date) >= b.prev_start AND date(c.consumption_date) < b.last_end
      AND c.engine_hours IS NOT NULL
    GROUP BY c.sf_account_id
),

calls AS (
    SELECT g.sf_account_id, COUNT(*) AS n, AVG(g.sentiment) AS mean_sentiment
    FROM gong_call_f AS g CROSS JOIN bounds AS b
    WHERE date(g.call_date) >= b.window_start AND date(g.call_date) < date(b.as_of)
      AND g.sentiment BETWEEN -1 AND 1
    GROUP BY g.sf_account_id
),

messages AS (
    SELECT m.sf_account_id, COUNT(*) AS n, julianday(MAX(date(m.message_date))) AS last_jd
    FROM slack_message_f AS m CROSS JOIN bounds AS b
    WHERE date(m.message_date) >= b.window_start AND date(m.message_date) < date(b.as_of)
    GROUP BY m.sf_account_id
),

-- open: stage not Closed Won / Closed Lost (NULL counts as open); active: neither stalled
-- (more than stall_days since the last stage change) nor past its close date
pipeline AS (
    SELECT o.sf_account_id,
           COUNT(*) AS n_open,
           SUM(b.as_of_jd - julianday(date(o.last_stage_change_date)) <= b.stall_days
               AND julianday(date(o.close_date)) >= b.as_of_jd) AS n_active
    FROM opportunity_d AS o CROSS JOIN bounds AS b
    WHERE COALESCE(o.stage_name, '') NOT IN ('Closed Won', 'Closed Lost')
      AND date(o.close_date) IS NOT NULL AND date(o.last_stage_change_date) IS NOT NULL
    GROUP BY o.sf_account_id
),

components AS (
    SELECT a.sf_account_id,
           CASE WHEN COALESCE(u.prev3, 0) > 0
                THEN MAX(0.0, MIN(100.0, 50.0 + 50.0 * (u.last3 / u.prev3 - 1.0) / (b.trend_full_pct / 100.0)))
                ELSE 50.0 END AS U,
           CASE WHEN c.n > 0 THEN 50.0 + 50.0 * c.mean_sentiment ELSE 50.0 END AS S,
           CASE WHEN m.n IS NULL OR b.as_of_jd - m.last_jd > b.silent_days THEN 0.0
                ELSE MIN(100.0, 100.0 * m.n / b.slack_target) END AS E,
           CASE WHEN COALESCE(p.n_open, 0) = 0 THEN 50.0
                WHEN p.n_active > 0 THEN 100.0 ELSE 0.0 END AS P,
           b.w_u, b.w_s, b.w_e, b.w_p, b.healthy_min, b.watch_min
    FROM salesforce_account_d AS a
    CROSS JOIN bounds AS b
    LEFT JOIN usage_halves AS u ON u.sf_account_id = a.sf_account_id
    LEFT JOIN calls AS c ON c.sf_account_id = a.sf_account_id
    LEFT JOIN messages AS m ON m.sf_account_id = a.sf_account_id
    LEFT JOIN pipeline AS p ON p.sf_account_id = a.sf_account_id
),

scored AS (
    SELECT *, (w_u * U + w_s * S + w_e * E + w_p * P) / (w_u + w_s + w_e + w_p) AS health
    FROM components
)

SELECT sf_account_id, ROUND(U, 4), ROUND(S, 4), ROUND(E, 4), ROUND(P, 4), ROUND(health, 4),
       CASE WHEN health >= healthy_min THEN 'healthy' WHEN health >= watch_min THEN 'watch'
            ELSE 'at_risk' END
FROM scored
ORDER BY sf_account_id;
