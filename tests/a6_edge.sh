#!/bin/sh
# A6 edge cases on tiny SQLite fixtures built here: ties, zero and NULL
# amounts, NULL and unreadable dates, a reason naming two competitors, words
# that only contain a competitor's name, case, non-ASCII text around names,
# aliases, a competitor with no mentions, rows on the as_of day, one day of
# data, too few losses to call a dominant competitor, chunk boundaries inside
# the data (rows_per_chunk 1 and 7), an empty result and bad options.  Each
# gives the answer worked out by hand below, or a clear message; revops never
# crashes.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"

schema() {
    sqlite3 "$1" <<'SQL'
CREATE TABLE opportunity_d (opportunity_id TEXT, sf_account_id TEXT, stage_name TEXT, amount REAL,
                            closed_at_date TEXT, closed_won_lost_reason TEXT);
CREATE TABLE gong_call_f (gong_call_id TEXT, sf_account_id TEXT, call_date TEXT, call_title TEXT, call_summary TEXT);
CREATE TABLE slack_message_f (message_ts TEXT, sf_account_id TEXT, message_date TEXT, message_text TEXT);
SQL
}

# conf DB RPC FINDINGS OUT 'OPTIONS' [WHERE]: the A6 pipeline on DB; WHERE
# (default 1) is added to every query; calls/messages inputs unless NOMENTIONS=1.
conf() {
    where=${6:-1}
    mentions=""
    if [ "${NOMENTIONS:-0}" != 1 ]; then
        mentions="
      calls = { source = \"fx\"; query =
        \"SELECT gong_call_id, sf_account_id, call_date, call_title, call_summary FROM gong_call_f \"
        \"WHERE $where ORDER BY gong_call_id ${ORDER:-}\"; };
      messages = { source = \"fx\"; query =
        \"SELECT message_ts, sf_account_id, message_date, message_text FROM slack_message_f \"
        \"WHERE $where ORDER BY message_ts ${ORDER:-}\"; };"
    fi
    cat > "$4" <<CONF
state_dir = "$TMP/state";
sources = { fx = { plugin = "sqlite"; database = "$1"; rows_per_chunk = $2; }; };
actions = { out = { plugin = "file"; path = "$3"; }; };
pipelines = {
  a6 = {
    analysis = "A6";
    options = { as_of = "2026-11-01"; $5 };
    inputs = {
      opportunities = { source = "fx"; query =
        "SELECT opportunity_id, sf_account_id, stage_name, amount, closed_at_date, closed_won_lost_reason "
        "FROM opportunity_d WHERE $where ORDER BY opportunity_id ${ORDER:-}"; };$mentions
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
CONF
}

# run NAME: revops on $TMP/NAME.conf; sets rc, stderr in $TMP/NAME.err
run() {
    "$REVOPS" run -c "$TMP/$1.conf" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
}

# summary FINDINGS: one line per finding, in file order:
# name priority score signal=value[/threshold for mentions] ...
summary() {
    "$PYTHON" - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    sig = []
    for s in f["signals"]:
        v = "%g" % round(s["value"], 2)
        if s["name"].endswith("_mentions"):
            v += "/%g" % s["threshold"]
        sig.append("%s=%s" % (s["name"], v))
    print(f["account_name"], f["priority"], "%.4f" % f["score"], " ".join(sig))
PY
}

# ---------------------------------------------------------------- main fixture --
db="$TMP/fx.db"
schema "$db"
sqlite3 "$db" <<'SQL'
INSERT INTO opportunity_d VALUES
 ('O01','A1','Closed Lost',1000,'2026-10-31','Lost to Databricks'),
 ('O02','A2','Closed Lost',0,'2026-10-31','databricks lakehouse'),
 ('O03','A3','Closed Lost',NULL,'2026-06-01','Chose DATABRICKS'),
 ('O04','A1','Closed Lost',500,'2026-07-01','Lost to SNOWFLAKE on price'),
 ('O05','A4','Closed Lost',500,'2026-07-01','Snowflake: cheaper'),
 ('O06','A5','Closed Lost',500,'2026-05-01','Verloren an Snowflake – zu teuer'),
 ('O07','A5','Closed Lost',900,'2026-08-01','Snowflake or Databricks, undecided'),
 ('O08','A6','Closed Lost',100,'2026-08-02','Snowflakes in winter'),
 ('O09','A6','Closed Lost',100,'2026-08-03',NULL),
 ('O10','A1','Closed Won',2000,'2026-09-01','Beat Databricks in the POC'),
 ('O11','A7','Closed Lost',300,NULL,'Lost to BigQuery'),
 ('O12','A7','Closed Lost',300,'not-a-date','Lost to BigQuery'),
 ('O13','A8','Negotiation',999,NULL,NULL),
 ('O14','A1','Closed Lost',700,'2026-11-01','Lost to Databricks'),
 ('P01','A1','Closed Lost',100,'2026-04-30','Lost to Snowflake'),
 ('P02','A2','Closed Lost',100,'2025-01-01','Lost to Snowflake'),
 ('P03','A3','Closed Lost',100,'2025-06-01','Lost to Databricks'),
 ('P04','A4','Closed Lost',100,'2025-07-01','Lost to BigQuery');
INSERT INTO gong_call_f VALUES
 ('C1','A1','2026-10-31','Zürich Datenwerk | Pricing','They mentioned evaluating Snowflake.'),
 ('C2','A2','2026-10-31','東京アナリティクス | Snowflakeを検討',NULL),
 ('C3','A3','2026-09-01','QBR','Compared Databricks and Snowflake'),
 ('C4','A4','2026-01-01','Old call','ClickHouse came up'),
 ('C5','A5','2026-02-01','Old call','Redshift came up'),
 ('C6','A6',NULL,'No date','Snowflake');
INSERT INTO slack_message_f VALUES
 ('M1','A1','2026-10-01','our ML team is piloting spark'),
 ('M2','A2','2026-10-02',NULL),
 ('M3','A3','2026-13-45','Snowflake');
SQL
ok $? "main fixture built"

for rpc in 1000 7 1; do
    conf "$db" $rpc "$TMP/main-$rpc.jsonl" "$TMP/main.conf" 'aliases = ["Spark=Databricks"];'
    run main
    is "$rc" 0 "main fixture, rows_per_chunk $rpc: run ok"
done
summary "$TMP/main-1000.jsonl" > "$TMP/main.sum"
# Worked by hand (docs/analyses/A6.md): now = 2026-05-01..2026-10-31, previous = before.
# Competitive losses now: Databricks O01 O02 O03, Snowflake O04 O05 O06 (6); O07 names two,
# O08 only 'Snowflakes', O14 is on as_of.  Before: Snowflake 2, Databricks 1, BigQuery 1 (4).
# Databricks 50% (was 25%): dominant, below 60% -> high; score .5*.5 + .3*(.25/.5) + .1*1/3 + .1*1.
# Snowflake 50% (was 50%): tie, not rising -> low; score .5*.5 + .1*3/3.
# BigQuery, ClickHouse, Redshift: score 0, tie broken by name.
cat > "$TMP/main.want" <<'EOF2'
Databricks high 0.5333 loss_share=50 loss_share_change=25 amount_lost=1000 win_rate=25 call_mentions=1/0 slack_mentions=1/0
Snowflake low 0.3500 loss_share=50 loss_share_change=0 amount_lost=1500 win_rate=0 call_mentions=3/0
BigQuery low 0.0000 loss_share=0 loss_share_change=-25 amount_lost=0
ClickHouse low 0.0000 loss_share=0 loss_share_change=0 call_mentions=0/1
Redshift low 0.0000 loss_share=0 loss_share_change=0 call_mentions=0/1
EOF2
cmp -s "$TMP/main.sum" "$TMP/main.want"; st=$?
ok $st "main fixture: findings, priorities, scores and signals as worked out by hand"
[ $st -eq 0 ] || diff "$TMP/main.want" "$TMP/main.sum" | sed 's/^/#   /'
cmp -s "$TMP/main-1000.jsonl" "$TMP/main-7.jsonl"; ok $? "main fixture: rows_per_chunk 7 gives identical findings"
cmp -s "$TMP/main-1000.jsonl" "$TMP/main-1.jsonl"; ok $? "main fixture: rows_per_chunk 1 (a boundary inside every competitor's rows) gives identical findings"

# The same rows in the opposite order, cut into chunks of 7: the same findings.
ORDER=DESC conf "$db" 7 "$TMP/main-desc.jsonl" "$TMP/desc.conf" 'aliases = ["Spark=Databricks"];'
run desc
is "$rc" 0 "main fixture, rows in reverse order: run ok"
grep -q "ORDER BY opportunity_id DESC" "$TMP/desc.conf"; ok $? "main fixture: the reverse-order config really reverses the rows"
cmp -s "$TMP/main-1000.jsonl" "$TMP/main-desc.jsonl"; ok $? "main fixture: rows in reverse order give identical findings"

jget_line() {  # jget_line FILE N EXPR: EXPR on the N-th finding (0-based) as f
    "$PYTHON" -c 'import json,sys; f=[json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][int(sys.argv[2])]; s={x["name"]: x for x in f["signals"]}; print(eval(sys.argv[3]))' "$1" "$2" "$3" 2>&1
}
f="$TMP/main-1000.jsonl"
is "$(jget_line "$f" 0 'f["account_id"], f["category"], f["analysis"]')" "('competitor:Databricks', 'competitor', 'A6')" "one finding per competitor: account_id competitor:NAME, category competitor"
is "$(jget_line "$f" 0 'f["confidence"]')" "0.58" "confidence grows with the competitive losses in the window (6 of 20)"
jget_line "$f" 0 's["loss_share"]["evidence"]' > "$TMP/ev"
like "$TMP/ev" "3 of 6 competitive losses closed 2026-05-01..2026-10-31 name Databricks" "evidence: counts and the window"
like "$TMP/ev" "O01 (2026-10-31, amount 1,000, 'Lost to Databricks'), O02 (2026-10-31, amount 0, 'databricks lakehouse'), O03 (2026-06-01, 'Chose DATABRICKS')" "evidence: latest losses, same-day tie by id, zero amount shown, NULL amount left out"
jget_line "$f" 0 's["loss_share_change"]["evidence"]' > "$TMP/ev"
like "$TMP/ev" "previous window (before 2026-05-01): 1 of 4 competitive losses (25.0%)" "evidence: the previous window is everything before the current one"
jget_line "$f" 0 's["slack_mentions"]["evidence"]' > "$TMP/ev"
like "$TMP/ev" "M1 (2026-10-01)" "alias Spark=Databricks counts a Slack mention"
jget_line "$f" 1 's["call_mentions"]["evidence"]' > "$TMP/ev"
like "$TMP/ev" "C1 (2026-10-31), C2 (2026-10-31), C3 (2026-09-01)" "calls with non-ASCII titles (Zürich, 東京) and one naming two competitors count"
jget_line "$f" 0 'f["recommended_actions"][0]' > "$TMP/ev"
like "$TMP/ev" "Refresh the Databricks battlecard" "the dominant competitor gets a battlecard action"
jget_line "$f" 0 'f["title"]' > "$TMP/ev"
like "$TMP/ev" "Databricks dominates competitive losses: 50% of recent losses (was 25%)" "title of the dominant competitor"
jget_line "$f" 1 'f["description"]' > "$TMP/ev"
unlike "$TMP/ev" "dominant competitor" "a tied share that did not rise is not dominant"
like "$TMP/main.err" "dataset 'opportunities': 3 of 18 rows not fully used" "bad opportunity rows counted once"
like "$TMP/main.err" "first at row 3: opportunity O03: amount is NULL (the loss is counted, its amount as 0)" "first bad opportunity row shown"
like "$TMP/main.err" "dataset 'calls': 1 of 6 rows not fully used" "a call without a date is reported"
like "$TMP/main.err" "message M3: message_date is '2026-13-45'" "an unreadable message date is reported with its value"
like "$TMP/main.err" "1 closed-lost reasons name more than one competitor and are not counted as competitive losses (first: opportunity O07)" "a reason naming two competitors is reported, not counted"
is "$(grep -c "rows not fully used" "$TMP/main.err")" 3 "each dataset's bad rows reported once"

# previous_months bounds the previous window: 2025-11-01..2026-04-30 keeps P01 only.
conf "$db" 1000 "$TMP/prev.jsonl" "$TMP/prev.conf" 'previous_months = 6;'
run prev
is "$rc" 0 "previous_months = 6: run ok"
jget_line "$TMP/prev.jsonl" 0 's["loss_share_change"]["evidence"]' > "$TMP/ev"
like "$TMP/ev" "previous window (2025-11-01..2026-04-30): 0 of 1 competitive losses" "previous_months = 6: the previous window is the 6 months before"
is "$(summary "$TMP/prev.jsonl" | cut -d' ' -f1,2 | tr '\n' ' ')" "Databricks high Snowflake low ClickHouse low Redshift low " "previous_months = 6: Snowflake's share fell, BigQuery is no longer active"

# ------------------------------------------------------ one day of data --
db1="$TMP/day.db"
schema "$db1"
sqlite3 "$db1" <<'SQL'
INSERT INTO opportunity_d VALUES
 ('S1','X','Closed Lost',100,'2026-10-31','Lost to Databricks'),
 ('S2','X','Closed Lost',100,'2026-11-01','Lost to Snowflake');
SQL
NOMENTIONS=1 conf "$db1" 1 "$TMP/day.jsonl" "$TMP/day.conf" ''
run day
is "$rc" 0 "one day of data, no calls or messages inputs: run ok"
is "$(summary "$TMP/day.jsonl")" "Databricks medium 0.8000 loss_share=100 loss_share_change=100 amount_lost=100 win_rate=0" "one loss: rising (medium) but not dominant; the as_of day is outside the window"
jget_line "$TMP/day.jsonl" 0 'f["description"]' > "$TMP/ev"
like "$TMP/ev" "Only 1 competitive losses in the window (fewer than 5): too few to call a dominant competitor." "too few losses is said in the description"
NOMENTIONS=1 conf "$db1" 1 "$TMP/day2.jsonl" "$TMP/day2.conf" 'min_competitive_losses = 1;'
run day2
is "$(summary "$TMP/day2.jsonl" | cut -d' ' -f1,2)" "Databricks critical" "min_competitive_losses = 1: 100% of one loss is dominant, critical"

# ---------------------------------------------------------- empty result --
conf "$db" 7 "$TMP/empty.jsonl" "$TMP/empty.conf" '' '0'
run empty
is "$rc" 0 "empty result: run ok"
like "$TMP/empty.err" "no closed opportunities, calls or messages dated inside the windows (0 opportunity, 0 call, 0 message rows read): no findings" "empty result: a clear message"
test ! -s "$TMP/empty.jsonl"; ok $? "empty result: no findings"

# Rows, but no competitor named anywhere.
db2="$TMP/none.db"
schema "$db2"
sqlite3 "$db2" "INSERT INTO opportunity_d VALUES ('N1','X','Closed Lost',5,'2026-10-01','No budget'); INSERT INTO gong_call_f VALUES ('NC','X','2026-10-01','Zürich Datenwerk | QBR','Went well');"
conf "$db2" 1 "$TMP/none.jsonl" "$TMP/none.conf" ''
run none
is "$rc" 0 "no competitor named: run ok"
like "$TMP/none.err" "no competitor named in 1 closed opportunities, 1 calls and 0 messages: no findings" "no competitor named: a clear message"
test ! -s "$TMP/none.jsonl"; ok $? "no competitor named: no findings"

# -------------------------------------------------------------- bad options --
conf "$db" 1000 "$TMP/x.jsonl" "$TMP/bad1.conf" 'aliases = ["Spark"];'
run bad1
test "$rc" -ne 0 && test "$rc" -lt 128; ok $? "alias without '=': refused without a crash (exit $rc)"
like "$TMP/bad1.err" "option aliases: 'Spark' is not ALIAS=COMPETITOR" "alias without '=': clear message"
conf "$db" 1000 "$TMP/x.jsonl" "$TMP/bad2.conf" 'aliases = ["Spark=Cloudera"];'
run bad2
test "$rc" -ne 0 && test "$rc" -lt 128; ok $? "alias of an unknown competitor: refused without a crash (exit $rc)"
like "$TMP/bad2.err" "the competitor after '=' is not in option competitors" "alias of an unknown competitor: clear message"
conf "$db" 1000 "$TMP/x.jsonl" "$TMP/bad3.conf" 'competitors = ["Snowflake", "snowflake"];'
run bad3
test "$rc" -ne 0 && test "$rc" -lt 128; ok $? "a competitor listed twice: refused without a crash (exit $rc)"
like "$TMP/bad3.err" "option competitors: 'Snowflake' is listed twice" "a competitor listed twice: clear message"
conf "$db" 1000 "$TMP/x.jsonl" "$TMP/bad4.conf" 'dominant_share = 70.0;'
run bad4
test "$rc" -ne 0 && test "$rc" -lt 128; ok $? "dominant_share above critical_share: refused (exit $rc)"
like "$TMP/bad4.err" "critical_share (60) >= dominant_share (70) must hold" "dominant_share above critical_share: clear message"
done_testing
