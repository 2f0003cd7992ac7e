-- The demo warehouse (demo/gen.c, SQLite) as typed PostgreSQL tables, for
-- tests/demo_to_pg.sh: the same table and column names, in the same order.
-- SQLite TEXT dates -> date, created_at_ts -> timestamp, REAL -> double
-- precision, INTEGER -> bigint (is_active stays bigint 0/1: the queries compare
-- is_active = 1 in every dialect), TEXT -> text; the same keys, NOT NULLs and
-- indexes.  Data is loaded by tests/demo_to_pg.sh with \copy.

SET client_min_messages = warning;
DROP TABLE IF EXISTS salesforce_account_d, opportunity_d, consumption_daily_d,
                     agreement_f, gong_call_f, slack_message_f;

CREATE TABLE salesforce_account_d (
  sf_account_id text PRIMARY KEY,
  sf_account_name text NOT NULL,
  sf_account_type_custom text,
  account_region text,
  sf_industry text,
  sf_owner_id text,
  potential_account_spend_usd double precision,
  created_at_ts timestamp
);

CREATE TABLE opportunity_d (
  opportunity_id text PRIMARY KEY,
  opportunity_name text,
  opportunity_type text,
  sf_account_id text NOT NULL,
  stage_name text,
  amount double precision,
  probability double precision,
  close_date date,
  created_at_ts timestamp,
  closed_at_date date,
  closed_won_lost_reason text,
  owner_id text,
  last_stage_change_date date
);

CREATE TABLE consumption_daily_d (
  consumption_date date NOT NULL,
  sf_account_id text NOT NULL,
  engine_hours double precision,
  query_count bigint,
  data_scanned_bytes bigint
);

CREATE TABLE agreement_f (
  agreement_id text PRIMARY KEY,
  sf_account_id text NOT NULL,
  amount double precision,
  contract_term_months bigint,
  is_active bigint,
  agreement_status text,
  start_date date,
  end_date date,
  committed_engine_hours_monthly double precision
);

CREATE TABLE gong_call_f (
  gong_call_id text PRIMARY KEY,
  sf_account_id text NOT NULL,
  call_date date,
  call_title text,
  duration_seconds bigint,
  sentiment double precision,
  call_summary text
);

CREATE TABLE slack_message_f (
  message_ts text NOT NULL,          -- Slack's "seconds.micros" id: text, as in SQLite
  channel_name text NOT NULL,
  sf_account_id text NOT NULL,
  user_name text,
  message_date date,
  message_text text
);

CREATE INDEX opportunity_d_account ON opportunity_d (sf_account_id);
CREATE UNIQUE INDEX consumption_daily_d_account_date ON consumption_daily_d (sf_account_id, consumption_date);
CREATE INDEX agreement_f_account ON agreement_f (sf_account_id);
CREATE INDEX gong_call_f_account ON gong_call_f (sf_account_id);
CREATE INDEX slack_message_f_account ON slack_message_f (sf_account_id);
