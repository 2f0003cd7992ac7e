-- tests/a1_independent.sql: the A1 at-risk rule (docs/architecture.md, "A1 at-risk accounts:
-- the rule") in plain SQLite SQL, written without reference to any C code, to cross-check the
-- generator's planted truth and the A1 analysis plugin.
--
-- Prints one row per (account, signal), ordered by account then signal:
--   sf_account_id | signal | value
--   signal: usage_decline        value: decline from M-3 to M0 in percent, rounded to 2 decimals
--           renewal_past_due     value: max days past due over the account's open renewals
--           stalled_opportunity  value: max days since last stage change over its open opportunities
--
-- The analysis date is the one date literal in the params CTE below (it occurs nowhere else in
-- this file); a test replaces it with  sed "s/'<that date>' AS as_of/'$D' AS as_of/".
-- decline_pct and stall_days are the rule's defaults (20, 60).
--
-- M0 is the last complete calendar month before as_of, M-1..M-3 the ones before; u(m) is the
-- account's SUM(engine_hours) in month m, 0 when it has no rows.  Open means a stage other
-- than 'Closed Won' / 'Closed Lost' (a NULL stage counts as open).  Dates are compared as days
-- (date() first, so a timestamp in a date column is still read as its day).

WITH
params AS (SELECT '2026-11-01' AS as_of, 20.0 AS decline_pct, 60 AS stall_days),

bounds AS (
    SELECT date(as_of)                                  AS as_of,
           julianday(date(as_of))                       AS as_of_jd,
           decline_pct,
           stall_days,
           date(as_of, 'start of month', '-4 months')  AS m3_start,
           date(as_of, 'start of month', '-3 months')  AS m2_start,
           date(as_of, 'start of month', '-2 months')  AS m1_start,
           date(as_of, 'start of month', '-1 month')   AS m0_start,
           date(as_of, 'start of month')               AS m0_end
    FROM params
),

monthly AS (
    SELECT c.sf_account_id,
           TOTAL(CASE WHEN date(c.consumption_date) >= b.m3_start
                       AND date(c.consumption_date) <  b.m2_start THEN c.engine_hours END) AS u3,
           TOTAL(CASE WHEN date(c.consumption_date) >= b.m2_start
                       AND date(c.consumption_date) <  b.m1_start THEN c.engine_hours END) AS u2,
           TOTAL(CASE WHEN date(c.consumption_date) >= b.m1_start
                       AND date(c.consumption_date) <  b.m0_start THEN c.engine_hours END) AS u1,
           TOTAL(CASE WHEN date(c.consumption_date) >= b.m0_start
                       AND date(c.consumption_date) <  b.m0_end   THEN c.engine_hours END) AS u0
    FROM consumption_daily_d AS c
    CROSS JOIN bounds AS b
    WHERE date(c.consumption_date) >= b.m3_start
      AND date(c.consumption_date) <  b.m0_end
    GROUP BY c.sf_account_id
),

usage_decline AS (
    SELECT m.sf_account_id,
           'usage_decline' AS signal,
           ROUND(100.0 * (m.u3 - m.u0) / m.u3, 2) AS value
    FROM monthly AS m
    CROSS JOIN bounds AS b
    WHERE m.u3 > m.u2
      AND m.u2 > m.u1
      AND m.u1 > m.u0
      AND m.u3 > 0
      AND (m.u3 - m.u0) / m.u3 > b.decline_pct / 100.0
),

open_opportunities AS (
    SELECT o.sf_account_id,
           o.opportunity_type,
           julianday(date(o.close_date))             AS close_jd,
           julianday(date(o.last_stage_change_date)) AS change_jd
    FROM opportunity_d AS o
    WHERE COALESCE(o.stage_name, '') NOT IN ('Closed Won', 'Closed Lost')
),

renewal_past_due AS (
    SELECT o.sf_account_id,
           'renewal_past_due' AS signal,
           CAST(MAX(b.as_of_jd - o.close_jd) AS INTEGER) AS value
    FROM open_opportunities AS o
    CROSS JOIN bounds AS b
    WHERE o.opportunity_type = 'Renewal'
      AND o.close_jd < b.as_of_jd
    GROUP BY o.sf_account_id
),

stalled_opportunity AS (
    SELECT o.sf_account_id,
           'stalled_opportunity' AS signal,
           CAST(MAX(b.as_of_jd - o.change_jd) AS INTEGER) AS value
    FROM open_opportunities AS o
    CROSS JOIN bounds AS b
    WHERE b.as_of_jd - o.change_jd > b.stall_days
    GROUP BY o.sf_account_id
)

SELECT sf_account_id, signal, value FROM usage_decline
UNION ALL
SELECT sf_account_id, signal, value FROM renewal_past_due
UNION ALL
SELECT sf_account_id, signal, value FROM stalled_opportunity
ORDER BY sf_account_id, signal;
