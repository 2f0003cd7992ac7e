#!/bin/sh
# A5 edge cases on a tiny warehouse built here with the sqlite3 CLI:
# non-ASCII names, a MAD of 0 and a change of exactly min_change_pct (ties at
# the threshold), zero amounts, two accounts tied on score, duplicate rows of
# one day, an account with no usage, a single day of data, an all-zero
# baseline, a missing day in the window, NULL and unreadable cells, rows
# outside the window, chunk boundaries inside accounts (rows_per_chunk 1 and
# 7), any row order, an empty result and bad options.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/edge.db"

# as_of 2026-11-01, window_days 14, baseline_weeks 4: the kept days are
# 2026-09-20..2026-10-31, the window 2026-10-18..2026-10-31.
sqlite3 "$db" <<'SQL'
CREATE TABLE salesforce_account_d (sf_account_id TEXT, sf_account_name TEXT);
CREATE TABLE consumption_daily_d (consumption_date TEXT, sf_account_id TEXT, engine_hours REAL);
INSERT INTO salesforce_account_d VALUES
  ('E01', 'Zürich Datenwerk'), ('E02', '東京アナリティクス'), ('E03', 'Tie Alpha'),
  ('E04', 'Tie Beta'), ('E05', 'No Usage Ltd'), ('E06', 'One Day Inc.'),
  ('E07', 'Zero Baseline SA'), ('E08', 'Gappy & NULL Co.');
WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 41),
  days(day) AS (SELECT date('2026-09-20', '+' || n || ' days') FROM d)
INSERT INTO consumption_daily_d
  -- E01: flat 100 (MAD 0), +50% exactly on Tue 2026-10-27 (fires), -49% on Wed 10-28 (does not)
  SELECT day, 'E01', CASE day WHEN '2026-10-27' THEN 150 WHEN '2026-10-28' THEN 51 ELSE 100 END FROM days
  -- E02: flat 200, a zero on Thu 2026-10-29: a 100% drop
  UNION ALL SELECT day, 'E02', CASE day WHEN '2026-10-29' THEN 0 ELSE 200 END FROM days
  -- E03, E04: the same series, a drop to 10 from 50 on Tue 2026-10-20: tied scores
  UNION ALL SELECT day, 'E03', CASE day WHEN '2026-10-20' THEN 10 ELSE 50 END FROM days
  UNION ALL SELECT day, 'E04', CASE day WHEN '2026-10-20' THEN 10 ELSE 50 END FROM days
  -- E07: all zero but one day of 5: no baseline level, never an anomaly
  UNION ALL SELECT day, 'E07', CASE day WHEN '2026-10-25' THEN 5 ELSE 0 END FROM days
  -- E08: flat 100 with no row on Thu 2026-10-22: missing is absent, not a drop
  UNION ALL SELECT day, 'E08', 100 FROM days WHERE day <> '2026-10-22'
  -- E09 (no account row, so no name): two rows a day, 60 + 40; 300 + 100 on Wed 10-21
  UNION ALL SELECT day, 'E09', CASE day WHEN '2026-10-21' THEN 300 ELSE 60 END FROM days
  UNION ALL SELECT day, 'E09', CASE day WHEN '2026-10-21' THEN 100 ELSE 40 END FROM days;
INSERT INTO consumption_daily_d VALUES
  ('2026-10-30', 'E06', 500),                  -- a single day of data
  ('2026-10-23', NULL, 100),                   -- six unusable rows
  (NULL, 'E08', 100),
  ('not-a-date', 'E08', 100),
  ('2026-10-23', 'E08', NULL),
  ('2026-10-24', 'E08', 'abc'),
  ('2026-10-25', 'E08', -5),
  ('2026-08-01', 'E01', 9999),                 -- outside the kept days: ignored
  ('2026-11-01', 'E01', 9999);
SQL
is "$?" 0 "fixture built"

# edge_conf RPC FINDINGS USAGE-QUERY
edge_conf() {
    cat > "$TMP/c.conf" <<EOF
state_dir = "$TMP/state";
sources = { warehouse = { plugin = "sqlite"; database = "$db"; rows_per_chunk = $1; }; };
actions = { findings = { plugin = "file"; path = "$2"; }; };
pipelines = {
  anomalies = {
    analysis = "A5";
    options = { as_of = "2026-11-01"; window_days = 14; baseline_weeks = 4; min_baseline_points = 3; };
    inputs = {
      accounts = { source = "warehouse";
        query = "SELECT sf_account_id, sf_account_name FROM salesforce_account_d ORDER BY sf_account_id"; };
      usage = { source = "warehouse"; query = "$3"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };
};
EOF
}
ALL="SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d"

for rpc in 1000 7 1; do
    edge_conf $rpc "$TMP/f$rpc.jsonl" "$ALL ORDER BY sf_account_id, consumption_date"
    "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run$rpc.out" 2> "$TMP/run$rpc.err"
    is "$?" 0 "rows_per_chunk $rpc: run ok"
done
cmp -s "$TMP/f1000.jsonl" "$TMP/f7.jsonl"; ok $? "rows_per_chunk 7 (boundaries inside accounts) gives identical findings"
cmp -s "$TMP/f1000.jsonl" "$TMP/f1.jsonl"; ok $? "rows_per_chunk 1 gives identical findings"

# Any row order: newest first, accounts backwards, and the same findings.
edge_conf 7 "$TMP/rev.jsonl" "$ALL ORDER BY consumption_date DESC, sf_account_id DESC, engine_hours"
"$REVOPS" run -c "$TMP/c.conf" > /dev/null 2>&1
is "$?" 0 "reversed row order: run ok"
cmp -s "$TMP/f1000.jsonl" "$TMP/rev.jsonl"; ok $? "reversed row order gives identical findings"

"$PYTHON" - "$TMP/f1000.jsonl" > "$TMP/got.txt" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    sig = ";".join("%s %s %g %g" % (s["name"], s["evidence"].split()[1], s["value"], s["threshold"])
                   for s in f["signals"])
    print("%s|%s|%s|%.4f|%s|%s" % (f["account_id"], f.get("account_name") or "-", f["priority"],
                                  f["score"], sig, f["title"]))
PY
sed 's/^/# /' "$TMP/got.txt"
is "$(cut -d'|' -f1 "$TMP/got.txt" | tr '\n' ' ')" "E02 E03 E04 E09 E01 " \
   "findings: exactly E02, E03, E04, E09, E01, by score desc then account id (ties E03/E04)"
like "$TMP/got.txt" "E01|Zürich Datenwerk|low|0.1167|usage_spike 2026-10-27 150 150|Zürich Datenwerk: engine_hours usage spike +50.0% on 2026-10-27 (Tuesday)" \
     "MAD 0 and a change of exactly 50%: fires once (the -49% day does not), non-ASCII name kept"
like "$TMP/got.txt" "E02|東京アナリティクス|critical|1.0000|usage_drop 2026-10-29 0 100|" \
     "a zero amount against 200 is a full drop, critical; CJK name kept"
like "$TMP/got.txt" "E03|Tie Alpha|critical|0.8889|usage_drop 2026-10-20 10 25|" "tie: E03 found"
like "$TMP/got.txt" "E04|Tie Beta|critical|0.8889|usage_drop 2026-10-20 10 25|" "tie: E04 found with the same score"
like "$TMP/got.txt" "E09|-|high|0.7000|usage_spike 2026-10-21 400 150|E09: engine_hours usage spike +300.0%" \
     "two rows of one day are summed (400 against 100); no account row: the id is the title"
unlike "$TMP/got.txt" "E05|" "no usage: no finding"
unlike "$TMP/got.txt" "E06|" "a single day of data: no finding"
unlike "$TMP/got.txt" "E07|" "an all-zero baseline: no finding"
unlike "$TMP/got.txt" "E08|" "a missing day in the window is not a drop"
unlike "$TMP/got.txt" "9999" "rows outside the window and baseline are ignored"

err="$TMP/run1000.err"
like "$err" "dataset 'usage': 6 of " "the six unusable rows are counted"
like "$err" "rows not used (missing account, or missing or unreadable date or value); first at row 1: sf_account_id is NULL" \
     "the bad-row warning names the first example"
like "$err" "1 without enough baseline (< 3 same-weekday values)" "the single day is reported as lacking a baseline"
like "$err" "14 with a zero baseline median" "the zero baseline's 14 days are reported"
like "$err" "5 anomalies in 5 accounts" "the summary counts the anomalies"
test "$(grep -c "dataset 'usage'" "$err")" -eq 1; ok $? "the bad-row warning comes once"
test "$(grep -c "dataset 'usage'" "$TMP/run1.err")" -eq 1; ok $? "once also with rows_per_chunk 1"

# An empty result: a clear message, no findings, exit 0.
edge_conf 7 "$TMP/empty.jsonl" "$ALL WHERE 0"
"$REVOPS" run -c "$TMP/c.conf" > "$TMP/empty.out" 2> "$TMP/empty.err"
is "$?" 0 "empty usage: run ok"
like "$TMP/empty.err" "input 'usage' returned no rows: no usage to compare between 2026-09-20 and 2026-10-31, so no anomalies" \
     "empty usage: a clear message"
test ! -s "$TMP/empty.jsonl"; ok $? "empty usage: no findings"

# Rows, but none inside the kept days.
edge_conf 7 "$TMP/old.jsonl" "$ALL WHERE consumption_date < '2026-09-01' ORDER BY sf_account_id"
"$REVOPS" run -c "$TMP/c.conf" > /dev/null 2> "$TMP/old.err"
is "$?" 0 "only rows outside the window: run ok"
like "$TMP/old.err" "input 'usage': none of its 1 rows is a usable row between 2026-09-20 and 2026-10-31" \
     "only rows outside the window: a clear message"
test ! -s "$TMP/old.jsonl"; ok $? "only rows outside the window: no findings"

# Bad options: a clear refusal, never a crash.
edge_conf 7 "$TMP/bad.jsonl" "$ALL"
sed -i 's/min_baseline_points = 3;/min_baseline_points = 5;/' "$TMP/c.conf"
"$REVOPS" run -c "$TMP/c.conf" > "$TMP/bad.out" 2> "$TMP/bad.err"
rc=$?
test $rc -ne 0 && test $rc -lt 128; ok $? "min_baseline_points > baseline_weeks: refused without a crash (exit $rc)"
like "$TMP/bad.err" "option min_baseline_points (5) must not exceed baseline_weeks (4)" "the refusal says why"
edge_conf 7 "$TMP/bad.jsonl" "$ALL"
sed -i 's/window_days = 14;/window_days = 0;/' "$TMP/c.conf"
"$REVOPS" run -c "$TMP/c.conf" > "$TMP/bad.out" 2> "$TMP/bad.err"
is "$?" 78 "window_days = 0: a config error (exit 78)"
like "$TMP/bad.err" "window_days" "the config error names the option"
done_testing
