#!/bin/sh
# A4 (customer health) edge cases on a tiny SQLite fixture built here: an account with no usage,
# a single day of data, ties (equal scores; scores exactly on the band thresholds), zero usage,
# NULLs and unreadable values, non-ASCII names, chunk boundaries inside an account's rows
# (rows_per_chunk 1 and 7), rows in reverse order, an empty accounts result, optional inputs
# not configured, and inconsistent options.  Every case gives the right answer or a clear
# message, and revops never crashes (exit codes checked).  as_of 2026-11-01: usage compares
# 2026-08..10 with 2026-05..07; calls and messages count from 2026-08-03 to 2026-10-31.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/edge.db"

sqlite3 "$db" <<'SQL'
CREATE TABLE salesforce_account_d (sf_account_id TEXT, sf_account_name TEXT);
CREATE TABLE consumption_daily_d (consumption_date TEXT, sf_account_id TEXT, engine_hours REAL);
CREATE TABLE opportunity_d (opportunity_id TEXT, sf_account_id TEXT, stage_name TEXT, close_date TEXT,
                            last_stage_change_date TEXT);
CREATE TABLE gong_call_f (gong_call_id TEXT, sf_account_id TEXT, call_date TEXT, sentiment REAL);
CREATE TABLE slack_message_f (message_ts TEXT, sf_account_id TEXT, message_date TEXT);
INSERT INTO salesforce_account_d VALUES
  ('A001', 'Zürich Datenwerk'), ('A002', '東京アナリティクス'), ('A003', 'Healthy Co'),
  ('A004', 'Single Day Ltd'), ('A005', 'Tie One'), ('A006', 'Tie Two'), ('A007', 'Exactly Sixty'),
  ('A008', 'Exactly Thirty-Five'), ('A009', NULL), ('A010', 'Zero Hours'), ('A011', 'Past Due Inc'),
  ('A012', 'On The Edge'),
  (NULL, 'Nameless row');
INSERT INTO consumption_daily_d VALUES
  -- A002: 300 -> 150 (-50%): usage 0
  ('2026-05-10', 'A002', 100), ('2026-06-10', 'A002', 100), ('2026-07-10', 'A002', 100),
  ('2026-08-10', 'A002', 50), ('2026-09-10', 'A002', 50), ('2026-10-10', 'A002', 50),
  -- A003: 300 -> 390 (+30%): usage 100; an old row outside the window
  ('2025-01-10', 'A003', 5000),
  ('2026-05-10', 'A003', 100), ('2026-06-10', 'A003', 100), ('2026-07-10', 'A003', 100),
  ('2026-08-10', 'A003', 130), ('2026-09-10', 'A003', 130), ('2026-10-10', 'A003', 130),
  -- bad rows: no account, no date, a date that does not exist, non-numeric, NULL hours
  ('2026-08-15', NULL, 5), (NULL, 'A003', 5), ('2026-13-45', 'A003', 5),
  ('2026-08-20', 'A003', 'abc'), ('2026-08-21', 'A003', NULL),
  -- A004: a single day of data, no prior usage: neutral 50
  ('2026-10-20', 'A004', 42),
  -- A008: -50%: usage 0
  ('2026-05-10', 'A008', 100), ('2026-06-10', 'A008', 100), ('2026-07-10', 'A008', 100),
  ('2026-08-10', 'A008', 50), ('2026-09-10', 'A008', 50), ('2026-10-10', 'A008', 50),
  -- A010: zero hours everywhere: no prior usage, neutral 50
  ('2026-05-10', 'A010', 0), ('2026-08-10', 'A010', 0), ('2026-10-10', 'A010', 0),
  -- A011: flat on the window's edges; the days just outside (2026-04-30, as_of) do not count
  ('2026-04-30', 'A011', 1000), ('2026-05-01', 'A011', 100), ('2026-07-31', 'A011', 100),
  ('2026-08-01', 'A011', 100), ('2026-10-31', 'A011', 100), ('2026-11-01', 'A011', 1000),
  -- an account the accounts input does not list
  ('2026-08-10', 'A999', 10);
INSERT INTO opportunity_d VALUES
  ('O2', 'A002', 'Negotiation', '2026-12-31', '2026-06-01'),   -- stalled 153 days
  ('O3', 'A003', 'Proposal', '2026-12-15', '2026-10-15'),      -- active
  ('O3b', 'A003', 'Closed Lost', '2026-01-01', '2025-01-01'),  -- closed: not counted
  ('O8', 'A008', 'Proposal', '2027-01-01', '2026-08-01'),      -- stalled 92 days
  ('O9', 'A003', 'Proposal', NULL, '2026-10-01'),              -- bad: no close date
  ('O11', 'A011', 'Proposal', '2026-10-01', '2026-10-20'),     -- past its close date
  ('O12', 'A012', 'Proposal', '2026-11-01', '2026-09-02');     -- 60 days, closes on as_of: active
INSERT INTO gong_call_f VALUES
  ('c1', 'A002', '2026-09-10', -0.6), ('c2', 'A002', '2026-10-10', -0.4),
  ('c3', 'A003', '2026-09-10', 0.8), ('c4', 'A003', '2026-10-10', 0.8),
  ('c5', 'A003', '2026-07-01', -1.0),                          -- before the window
  ('c6', 'A003', '2026-09-01', NULL), ('c7', 'A003', '2026-09-02', 5), ('c8', 'A003', 'yesterday', 0.5),
  ('c9', 'A004', '2026-10-20', 0.0),
  ('c10', 'A008', '2026-10-01', 1.0),
  ('c11', 'A011', '2026-09-01', 0.2), ('c12', 'A011', '2026-10-01', 0.2);
INSERT INTO slack_message_f VALUES
  ('m1', 'A002', '2026-08-10'),                                -- 83 days before as_of: silent
  ('m2', 'A003', '2026-09-01'), ('m3', 'A003', '2026-09-10'), ('m4', 'A003', '2026-09-20'),
  ('m5', 'A003', '2026-10-01'), ('m6', 'A003', '2026-10-20'), ('m7', 'A003', '2026-10-30'),
  ('m8', 'A003', NULL),
  ('m9', 'A004', '2026-10-20'),
  ('m10', 'A007', '2026-10-01'), ('m11', 'A007', '2026-10-02'), ('m12', 'A007', '2026-10-03'),
  ('m13', 'A007', '2026-10-04'), ('m14', 'A007', '2026-10-05'), ('m15', 'A007', '2026-10-06'),
  ('m16', 'A008', '2026-10-01'), ('m17', 'A008', '2026-10-02'), ('m18', 'A008', '2026-10-03'),
  ('m19', 'A010', '2026-10-10'), ('m20', 'A010', '2026-10-11'), ('m21', 'A010', '2026-10-12'),
  ('m22', 'A011', '2026-10-01'), ('m23', 'A011', '2026-10-02'), ('m24', 'A011', '2026-10-03'),
  ('m25', 'A011', '2026-10-04'), ('m26', 'A011', '2026-10-05'), ('m27', 'A011', '2026-10-06'),
  ('m28', 'A012', '2026-09-02');                               -- 60 days before as_of: not silent
SQL
is "$?" 0 "fixture built"

# edge_conf RPC FINDINGS OUT [ORDER] [ACCOUNTS_WHERE] [OPTIONS] [NO_ENGAGEMENT]
edge_conf() {
    order=${4:-ASC}
    engagement="
      calls = { source = \"wh\"; query = \"SELECT sf_account_id, call_date, sentiment FROM gong_call_f ORDER BY rowid $order\"; };
      messages = { source = \"wh\"; query = \"SELECT sf_account_id, message_date FROM slack_message_f ORDER BY rowid $order\"; };"
    [ -n "$7" ] && engagement=""
    cat > "$3" <<CONF
state_dir = "$TMP/state";
sources = { wh = { plugin = "sqlite"; database = "$db"; rows_per_chunk = $1; }; };
actions = { out = { plugin = "file"; path = "$2"; }; };
pipelines = {
  health = {
    analysis = "A4";
    options = { as_of = "2026-11-01"; $6 };
    inputs = {
      accounts = { source = "wh"; query = "SELECT sf_account_id, sf_account_name FROM salesforce_account_d ${5:-} ORDER BY rowid $order"; };
      usage = { source = "wh"; query = "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d ORDER BY rowid $order"; };
      opportunities = { source = "wh"; query = "SELECT opportunity_id, sf_account_id, stage_name, close_date, last_stage_change_date FROM opportunity_d ORDER BY rowid $order"; };$engagement
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
CONF
}

# summary FINDINGS: "account priority health U S E P" per finding, in file order.
summary() {
    "$PYTHON" - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    c = {s["name"]: s["value"] for s in f["signals"]}
    print(f["account_id"], f["priority"], "%.2f" % (100 * (1 - f["score"])),
          *("%.2f" % c[k] if k in c else "-" for k in ("usage_trend", "call_sentiment", "slack_engagement", "open_pipeline")))
PY
}

for rpc in 1 7 1000; do
    edge_conf $rpc "$TMP/f$rpc.jsonl" "$TMP/c.conf"
    "$REVOPS" run -c "$TMP/c.conf" > "$TMP/out$rpc" 2> "$TMP/err$rpc"
    is "$?" 0 "rows_per_chunk $rpc: run ok"
done
summary "$TMP/f1000.jsonl" | sort > "$TMP/got"
cat > "$TMP/want" <<'W'
A001 medium 40.00 50.00 50.00 0.00 50.00
A002 critical 6.25 0.00 25.00 0.00 0.00
A004 medium 43.33 50.00 50.00 16.67 50.00
A005 medium 40.00 50.00 50.00 0.00 50.00
A006 medium 40.00 50.00 50.00 0.00 50.00
A008 medium 35.00 0.00 100.00 50.00 0.00
A009 medium 40.00 50.00 50.00 0.00 50.00
A010 medium 50.00 50.00 50.00 50.00 50.00
A011 medium 55.00 50.00 60.00 100.00 0.00
A012 medium 50.83 50.00 50.00 16.67 100.00
W
diff "$TMP/want" "$TMP/got" > "$TMP/d" 2>&1; ok $? "every account's band, health and components as computed by hand (A003 and A007 healthy: no finding)"
[ -s "$TMP/d" ] && sed 's/^/# /' "$TMP/d"
cmp -s "$TMP/f1000.jsonl" "$TMP/f7.jsonl"; ok $? "rows_per_chunk 7 (boundaries inside accounts' rows) gives identical findings"
cmp -s "$TMP/f1000.jsonl" "$TMP/f1.jsonl"; ok $? "rows_per_chunk 1 gives identical findings"

# Ties: equal health is ordered by account id; 35 exactly is watch, 60 exactly is healthy.
is "$(summary "$TMP/f1000.jsonl" | awk '$3 == "40.00" {printf "%s ", $1}')" "A001 A005 A006 A009 " "equal scores are ordered by account id"
like "$TMP/err1000" "12 accounts: 2 healthy, 9 watch, 1 at_risk (10 findings)" "band summary logged (A007 at exactly 60 is healthy, A008 at exactly 35 is watch)"

# Names, non-ASCII and missing, in the findings and their texts.
"$PYTHON" - "$TMP/f1000.jsonl" > "$TMP/names" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    print(f["account_id"], f["account_name"], "|", f["title"])
PY
like "$TMP/names" "A001 Zürich Datenwerk | Zürich Datenwerk: health 40.0/100, on watch" "non-ASCII name kept (Zürich)"
like "$TMP/names" "A002 東京アナリティクス | 東京アナリティクス: health 6.2/100, at risk (usage -50.0%" "non-ASCII name kept (東京), worst component first"
like "$TMP/names" "A009 None | A009: health 40.0/100, on watch" "an account without a name is titled by its id"

# Evidence in plain words.
grep '"A001"' "$TMP/f1000.jsonl" > "$TMP/a001"
like "$TMP/a001" "no engine_hours in 2026-05..2026-07 (no prior usage)" "no usage: neutral usage, said so"
like "$TMP/a001" "no calls from 2026-08-03 to 2026-10-31: neutral 50" "no calls: neutral sentiment, said so"
like "$TMP/a001" "no open opportunities: neutral 50" "no opportunities: neutral pipeline, said so"
like "$TMP/a001" '"confidence":0.6' "confidence lower without prior usage and without calls"
grep '"A002"' "$TMP/f1000.jsonl" > "$TMP/a002"
like "$TMP/a002" "2026-08 50, 2026-09 50, 2026-10 50; last 3 months (2026-08..2026-10) 150 vs the 3 before (2026-05..2026-07) 300: -50.0%" "usage evidence: the months' sums"
like "$TMP/a002" "2 calls from 2026-08-03 to 2026-10-31 (latest first): 2026-10-10 sentiment -0.40, 2026-09-10 sentiment -0.60; mean -0.500" "sentiment evidence: the calls"
like "$TMP/a002" "the last on 2026-08-10 (83 days before 2026-11-01); silent for more than 60 days: engagement 0" "engagement evidence: silent"
like "$TMP/a002" "O2 (Negotiation, close date 2026-12-31, last stage change 2026-06-01: stalled 153 days)" "pipeline evidence: the stalled opportunity"
grep '"A011"' "$TMP/f1000.jsonl" > "$TMP/a011"
like "$TMP/a011" "O11 (Proposal, close date 2026-10-01, last stage change 2026-10-20: 31 days past its close date)" "pipeline evidence: past due"
grep '"A012"' "$TMP/f1000.jsonl" > "$TMP/a012"
like "$TMP/a012" "the last on 2026-09-02 (60 days before 2026-11-01); engagement = min(100, 100 x 1 / 6) = 16.7" "a message exactly silent_days before as_of still counts"
like "$TMP/a012" "O12 (Proposal, close date 2026-11-01, last stage change 2026-09-02: active)" "an opportunity exactly stall_days old, closing on as_of, is active"
like "$TMP/a011" "2026-05 100, 2026-06 0, 2026-07 100, 2026-08 100, 2026-09 0, 2026-10 100" "usage window is exactly the six complete months"

# Bad rows: counted and reported once per dataset with the first example.
like "$TMP/err1000" "dataset 'usage': 5 of 35 rows not used" "usage: 5 bad rows counted"
like "$TMP/err1000" "sf_account_id is NULL" "usage: the first bad row is shown"
like "$TMP/err1000" "dataset 'calls': 3 of 12 rows not used" "calls: NULL, out-of-range and unreadable sentiment/date rows counted"
like "$TMP/err1000" "dataset 'messages': 1 of 28 rows not used" "messages: NULL date counted"
like "$TMP/err1000" "dataset 'opportunities': 1 of 7 rows not used" "opportunities: NULL close date counted"
like "$TMP/err1000" "opportunity O9: close_date is NULL" "opportunities: the row is named"
like "$TMP/err1000" "dataset 'accounts': 1 of 13 rows not used" "accounts: NULL id counted"
is "$(grep -c "dataset 'usage'" "$TMP/err1" | tr -d ' ')" 1 "reported once even with rows_per_chunk 1"
like "$TMP/err1000" "1 accounts have usage, opportunity, call or message rows but are not in the 'accounts' input: not scored" "rows of unlisted accounts are not scored"
unlike "$TMP/f1000.jsonl" "A999" "no finding for the unlisted account"

# Rows in reverse order give the same findings.
edge_conf 7 "$TMP/rev.jsonl" "$TMP/c.conf" DESC
"$REVOPS" run -c "$TMP/c.conf" > /dev/null 2>&1
is "$?" 0 "reverse row order: run ok"
cmp -s "$TMP/f1000.jsonl" "$TMP/rev.jsonl"; ok $? "reverse row order gives identical findings"

# Empty accounts result: a clear message, no findings, no failure.
edge_conf 7 "$TMP/empty.jsonl" "$TMP/c.conf" ASC "WHERE 0"
"$REVOPS" run -c "$TMP/c.conf" > /dev/null 2> "$TMP/err_empty"
is "$?" 0 "empty accounts result: run ok"
like "$TMP/err_empty" "the 'accounts' input returned no accounts: nothing to score, no findings" "empty accounts result: clear message"
test ! -s "$TMP/empty.jsonl"; ok $? "empty accounts result: no findings"

# Calls and messages not configured: their components are left out and the weights renormalised.
edge_conf 1000 "$TMP/noeng.jsonl" "$TMP/c.conf" ASC "" "" none
"$REVOPS" run -c "$TMP/c.conf" > /dev/null 2> "$TMP/err_noeng"
is "$?" 0 "calls and messages not configured: run ok"
like "$TMP/err_noeng" "input 'calls' is not configured: its component is left out of the score" "calls not configured: said so"
is "$(summary "$TMP/noeng.jsonl" | awk '$1 == "A002" || $1 == "A001" {printf "%s %s %s %s|", $1, $2, $3, $5}')" \
   "A002 critical 0.00 -|A001 medium 50.00 -|" "scores from usage and pipeline alone (weights 0.40 and 0.15 renormalised)"
like "$TMP/noeng.jsonl" "call sentiment not measured (input 'calls' not configured)" "the finding says what was not measured"

# Inconsistent options: a clear error, no crash.
edge_conf 7 "$TMP/bad.jsonl" "$TMP/c.conf" ASC "" "healthy_min = 30.0; watch_min = 40.0;"
"$REVOPS" run -c "$TMP/c.conf" > /dev/null 2> "$TMP/err_bad"
rc=$?
test "$rc" -ne 0 && test "$rc" -lt 128; ok $? "inconsistent thresholds: the run fails cleanly (exit $rc)"
like "$TMP/err_bad" "options healthy_min (30) >= watch_min (40) >= critical_below (15) must hold" "inconsistent thresholds: clear message"
done_testing
