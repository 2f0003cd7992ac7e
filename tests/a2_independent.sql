-- tests/a2_independent.sql: the A2 closed-lost pattern rule (docs/analyses/A2.md) in plain
-- SQLite SQL, written from the rule and not from the C code, to cross-check the A2 plugin.
--
-- Prints one row per reported group (account_type and region), ordered by group:
--   group | losses | top_reason | top_count | runner_up_count | prev_losses | prev_top_count
--         | competitive_losses | amount_lost_cents
--   group:  "account_type:SMB", "region:EMEA" ("(unknown)" for a NULL/empty value)
--   losses: closed-lost opportunities with closed_at_date in the window [as_of - 12 months, as_of)
--   prev_*: the same in the previous window [as_of - 24 months, as_of - 12 months)
--   top_reason: most losses, then most amount lost, then alphabetical (reason trimmed;
--               NULL/empty is '(no reason given)'); runner_up_count 0 when there is none
--   competitive_losses: losses whose reason names a competitor as a whole word, any case
-- Only groups with at least min_losses (5) losses in the window are reported.
--
-- The analysis date is the one date literal in the params CTE below; a test replaces it with
--   sed "s/'<that date>' AS as_of/'$D' AS as_of/".

WITH
params AS (SELECT '2026-11-01' AS as_of, 12 AS months, 5 AS min_losses),

bounds AS (
    SELECT date(as_of)                                        AS as_of,
           date(as_of, '-' || months || ' months')            AS cur_start,
           date(as_of, '-' || (2 * months) || ' months')      AS prev_start,
           min_losses
    FROM params
),

lost AS (
    SELECT o.opportunity_id,
           COALESCE(NULLIF(trim(a.sf_account_type_custom), ''), '(unknown)') AS account_type,
           COALESCE(NULLIF(trim(a.account_region), ''), '(unknown)')         AS region,
           COALESCE(NULLIF(trim(o.closed_won_lost_reason,
                                ' ' || char(9) || char(10) || char(11) || char(12) || char(13)),
                           ''), '(no reason given)')                         AS reason,
           CAST(ROUND(COALESCE(o.amount, 0) * 100) AS INTEGER)                AS cents,
           CASE WHEN date(o.closed_at_date) >= b.cur_start AND date(o.closed_at_date) < b.as_of
                THEN 'cur' ELSE 'prev' END                                   AS period
    FROM opportunity_d AS o
    LEFT JOIN salesforce_account_d AS a ON a.sf_account_id = o.sf_account_id
    CROSS JOIN bounds AS b
    WHERE o.stage_name = 'Closed Lost'
      AND date(o.closed_at_date) >= b.prev_start
      AND date(o.closed_at_date) < b.as_of
),

competitive AS (
    SELECT l.*,
           CASE WHEN lower(' ' || l.reason || ' ') GLOB '*[^a-z0-9_]snowflake[^a-z0-9_]*'
                  OR lower(' ' || l.reason || ' ') GLOB '*[^a-z0-9_]databricks[^a-z0-9_]*'
                  OR lower(' ' || l.reason || ' ') GLOB '*[^a-z0-9_]bigquery[^a-z0-9_]*'
                  OR lower(' ' || l.reason || ' ') GLOB '*[^a-z0-9_]redshift[^a-z0-9_]*'
                  OR lower(' ' || l.reason || ' ') GLOB '*[^a-z0-9_]clickhouse[^a-z0-9_]*'
                THEN 1 ELSE 0 END AS is_comp
    FROM lost AS l
),

grouped AS (
    SELECT 'account_type:' || account_type AS grp, reason, cents, period, is_comp FROM competitive
    UNION ALL
    SELECT 'region:' || region AS grp, reason, cents, period, is_comp FROM competitive
),

totals AS (
    SELECT grp,
           SUM(period = 'cur')                          AS losses,
           SUM(period = 'prev')                         AS prev_losses,
           SUM(CASE WHEN period = 'cur' THEN is_comp END) AS comp,
           SUM(CASE WHEN period = 'cur' THEN cents END)   AS cents
    FROM grouped
    GROUP BY grp
),

reasons AS (
    SELECT grp, reason,
           SUM(period = 'cur')                          AS n,
           SUM(period = 'prev')                         AS prev_n,
           SUM(CASE WHEN period = 'cur' THEN cents ELSE 0 END) AS cents
    FROM grouped
    GROUP BY grp, reason
),

ranked AS (
    SELECT r.*,
           ROW_NUMBER() OVER (PARTITION BY grp ORDER BY n DESC, cents DESC, reason ASC) AS rk
    FROM reasons AS r
    WHERE n > 0
)

SELECT t.grp,
       t.losses,
       top.reason,
       top.n,
       COALESCE(second.n, 0),
       t.prev_losses,
       top.prev_n,
       t.comp,
       t.cents
FROM totals AS t
JOIN ranked AS top ON top.grp = t.grp AND top.rk = 1
LEFT JOIN ranked AS second ON second.grp = t.grp AND second.rk = 2
CROSS JOIN bounds AS b
WHERE t.losses >= b.min_losses
ORDER BY t.grp;
