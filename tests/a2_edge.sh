#!/bin/sh
# A2 edge cases on a tiny hand-made warehouse: an account type with no losses,
# all losses of one group on a single day, ties for the top reason, zero and
# missing amounts, NULL and empty reasons, NULL account types, bad dates,
# non-ASCII names and reasons, chunk boundaries inside a group (rows_per_chunk
# 1 and 7), account_types filter, an empty result and a bad option.  Every
# expected value below is worked out by hand from the fixture.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/edge.db"

sqlite3 "$db" <<'SQL'
CREATE TABLE salesforce_account_d (sf_account_id TEXT, sf_account_name TEXT,
  sf_account_type_custom TEXT, account_region TEXT, sf_industry TEXT);
CREATE TABLE opportunity_d (opportunity_id TEXT, sf_account_id TEXT, stage_name TEXT,
  amount REAL, closed_at_date TEXT, closed_won_lost_reason TEXT, owner_id TEXT);
INSERT INTO salesforce_account_d VALUES
  ('A1', 'Zürich Datenwerk', 'SMB', 'EMEA', 'Manufacturing'),
  ('A2', '東京アナリティクス', 'Enterprise', '東京', 'Retail'),
  ('A3', 'No Loss Co', 'Strategic', 'NA', 'Media'),
  ('A4', 'Typeless Ltd', NULL, NULL, NULL),
  ('A5', 'One Day Inc', 'Mid-Market', 'NA', 'Retail'),
  ('A6', 'Partner GmbH', 'Partner', 'NA', 'Retail');
INSERT INTO opportunity_d VALUES
  -- SMB: a three-way tie on count (2 each); "Lost to Snowflake on price" and
  -- "No budget" tie on amount too (300), so the alphabetical order decides.
  ('o00', 'A1', 'Closed Lost', 100, 'not-a-date', 'No budget', 'U1'),
  ('o01', 'A1', 'Closed Lost', 100, '2026-03-01', 'No budget', 'U1'),
  ('o02', 'A1', 'Closed Lost', 200, '2026-03-02', 'No budget', 'U1'),
  ('o03', 'A1', 'Closed Lost', 150, '2026-03-03', '  Lost to Snowflake on price ', 'U1'),
  ('o04', 'A1', 'Closed Lost', 150, '2026-03-04', 'Lost to Snowflake on price', 'U2'),
  ('o05', 'A1', 'Closed Lost', 0, '2026-03-05', NULL, NULL),
  ('o06', 'A1', 'Closed Lost', NULL, '2026-03-06', '', NULL),
  ('o07', 'A1', 'Closed Won', 999, '2026-04-01', 'No budget', NULL),
  ('o08', 'A1', 'Closed Lost', 100, NULL, 'No budget', NULL),
  -- Enterprise: 'Budget gekürzt – Zürich' 2 of 5 now (40%), 1 of 5 before (20%): +20 pp.
  ('o10', 'A2', 'Closed Lost', 1000, '2026-01-10', 'Budget gekürzt – Zürich', NULL),
  ('o11', 'A2', 'Closed Lost', 1000, '2026-01-11', 'Budget gekürzt – Zürich', NULL),
  ('o12', 'A2', 'Closed Lost', 5000, '2026-01-12', 'Chose SNOWFLAKE', NULL),
  ('o13', 'A2', 'Closed Lost', 700, '2026-01-13', 'Snowflakes melted', NULL),
  ('o14', 'A2', 'Closed Lost', 25000, '2026-01-14', 'Lost to databricks, not Snowflake', NULL),
  ('o15', 'A2', 'Closed Lost', 10, '2025-01-01', 'Budget gekürzt – Zürich', NULL),
  ('o16', 'A2', 'Closed Lost', 10, '2025-01-02', 'Security', NULL),
  ('o17', 'A2', 'Closed Lost', 10, '2025-01-03', 'Security', NULL),
  ('o18', 'A2', 'Closed Lost', 10, '2025-01-04', 'Security', NULL),
  ('o19', 'A2', 'Closed Lost', 10, '2025-01-05', 'Timing', NULL),
  -- Mid-Market: every current loss on the window's last day; as_of itself and
  -- 2020 are outside both windows; one loss in the previous window only.
  ('o20', 'A5', 'Closed Lost', 500, '2026-10-31', 'Went dark', NULL),
  ('o21', 'A5', 'Closed Lost', 500, '2026-10-31', 'Went dark', NULL),
  ('o22', 'A5', 'Closed Lost', 500, '2026-10-31', 'Went dark', NULL),
  ('o23', 'A5', 'Closed Lost', 500, '2026-10-31', 'Price', NULL),
  ('o24', 'A5', 'Closed Lost', 500, '2026-10-31', 'Price', NULL),
  ('o25', 'A5', 'Closed Lost', 500, '2025-10-31', 'Went dark', NULL),
  ('o26', 'A5', 'Closed Lost', 500, '2026-11-01', 'Price', NULL),
  ('o27', 'A5', 'Closed Lost', 500, '2020-01-01', 'Price', NULL),
  -- No account type (NULL, and an account missing from the account table).
  ('o30', 'A4', 'Closed Lost', 25000, '2026-06-01', 'Champion left', NULL),
  ('o31', 'A4', 'Closed Lost', 100000, '2026-06-02', 'Champion left', NULL),
  ('o32', 'A4', 'Closed Lost', 99999.99, '2026-06-03', 'Champion left', NULL),
  ('o33', 'A4', 'Closed Lost', 24999.99, '2026-06-04', 'Champion left', NULL),
  ('o34', 'A4', 'Closed Lost', 0, '2026-06-05', 'Champion left', NULL),
  ('o35', 'A9', 'Closed Lost', 10, '2026-06-06', 'Champion left', NULL),
  -- Partner: 2 losses, fewer than min_losses; one amount is not a number.
  ('o40', 'A6', 'Closed Lost', 10, '2026-02-01', 'Other', NULL),
  ('o41', 'A6', 'Closed Lost', 'abc', '2026-02-02', 'Other', NULL);
SQL
is "$?" 0 "fixture built"

# conf OUT FINDINGS RPC OPTIONS [WHERE [ORDER]]: the A2 pipeline on the fixture.  The
# query has no date filter, so the plugin's own window check is what counts.
conf() {
    cat > "$1" <<EOF
state_dir = "$TMP/state";
log = { level = "info"; };
sources = { w = { plugin = "sqlite"; database = "$db"; rows_per_chunk = $3; }; };
actions = { out = { plugin = "file"; path = "$2"; }; };
pipelines = {
  a2 = {
    analysis = "A2";
    options = { $4 };
    inputs = {
      opportunities = { source = "w"; query =
        "SELECT o.opportunity_id, o.sf_account_id, a.sf_account_type_custom AS account_type, "
        "a.account_region, a.sf_industry AS industry, o.owner_id, o.amount, o.closed_at_date, "
        "o.closed_won_lost_reason FROM opportunity_d AS o "
        "LEFT JOIN salesforce_account_d AS a ON a.sf_account_id = o.sf_account_id "
        "WHERE o.stage_name = 'Closed Lost' ${5:-} ORDER BY ${6:-o.opportunity_id}"; };
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
EOF
}

# summary FINDINGS: one line per finding, fields picked out of its signals.
summary() {
    "$PYTHON" - "$1" <<'PY'
import json, re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    s = {x["name"]: x for x in f["signals"]}
    m = re.match(r'top reason "(.*)": (\d+) of (\d+) ', s["top_reason_share"]["evidence"])
    ru = re.search(r'runner-up "(.*)" (\d+)', s["top_reason_share"]["evidence"])
    c = re.match(r"(\d+) of (\d+) losses", s["competitive_loss_share"]["evidence"])
    print("%s | %s | %s | top %s %s/%s | runner-up %s %s | trend %.1f | comp %s | amount %.2f" % (
        f["account_id"], f["account_name"], f["priority"], m.group(1), m.group(2), m.group(3),
        ru.group(1) if ru else "-", ru.group(2) if ru else "-", s["top_reason_trend"]["value"],
        c.group(1), s["amount_lost"]["value"]))
PY
}

for rpc in 1000 7 1; do
    conf "$TMP/c.conf" "$TMP/f$rpc.jsonl" $rpc 'as_of = "2026-11-01";'
    "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run$rpc.out" 2> "$TMP/run$rpc.err"
    is "$?" 0 "rows_per_chunk $rpc: run ok"
done
cmp -s "$TMP/f1000.jsonl" "$TMP/f7.jsonl"; ok $? "rows_per_chunk 7 (boundaries inside every group) gives identical findings"
cmp -s "$TMP/f1000.jsonl" "$TMP/f1.jsonl"; ok $? "rows_per_chunk 1 gives identical findings"
conf "$TMP/c.conf" "$TMP/fr.jsonl" 7 'as_of = "2026-11-01";' "" "o.closed_won_lost_reason DESC, o.closed_at_date, o.opportunity_id DESC"
"$REVOPS" run -c "$TMP/c.conf" > "$TMP/runr.out" 2> "$TMP/runr.err"
is "$?" 0 "rows in another order: run ok"
cmp -s "$TMP/f1000.jsonl" "$TMP/fr.jsonl"; ok $? "rows in another order give identical findings"

summary "$TMP/f1000.jsonl" > "$TMP/s.txt"
is "$(wc -l < "$TMP/s.txt" | tr -d ' ')" 4 "four groups reach min_losses (no finding for Strategic without losses, nor for Partner's 2)"
is "$(cut -d'|' -f1 "$TMP/s.txt" | tr -d ' ' | tr '\n' ' ')" \
   "account_type:Enterprise account_type:(unknown) account_type:Mid-Market account_type:SMB " \
   "findings ordered by score, highest first"
like "$TMP/s.txt" "account_type:SMB | SMB accounts | medium | top Lost to Snowflake on price 2/6 | runner-up No budget 2 | trend 0.0 | comp 2 | amount 600.00" \
    "SMB: count and amount tie broken alphabetically, reason trimmed, NULL/empty reason and NULL amount still counted"
like "$TMP/s.txt" "account_type:Enterprise | Enterprise accounts | critical | top Budget gekürzt – Zürich 2/5 | runner-up Lost to databricks, not Snowflake 1 | trend 20.0 | comp 2 | amount 32700.00" \
    "Enterprise: non-ASCII reason, 40% and +20 pp is critical; runner-up by amount; 'SNOWFLAKE' counts, 'Snowflakes' does not"
like "$TMP/s.txt" "account_type:Mid-Market | Mid-Market accounts | high | top Went dark 3/5 | runner-up Price 2 | trend 0.0 | comp 0 | amount 2500.00" \
    "Mid-Market: a single day of data (the window's last day) counts; as_of and 2020 do not"
like "$TMP/s.txt" "account_type:(unknown) | Accounts without an account type | high | top Champion left 6/6 | runner-up - - | trend 0.0 | comp 0 | amount 250009.98" \
    "NULL account type and an account missing from the account table form the '(unknown)' group"
grep 'account_type:SMB' "$TMP/f1000.jsonl" > "$TMP/smb.json"
like "$TMP/smb.json" 'runner-up \"No budget\" 2 (tie broken by amount lost, then alphabetically)' "the tie is explained in the evidence"
like "$TMP/smb.json" "1 without a readable amount counted as 0" "the missing amount is named in the evidence"
grep 'account_type:Enterprise' "$TMP/f1000.jsonl" > "$TMP/ent.json"
like "$TMP/ent.json" "name a competitor: Snowflake 2, Databricks 1" "competitors counted per name, the loss once"
like "$TMP/ent.json" "Refresh the battlecard against Snowflake" "competitive share 40% >= 30% recommends a battlecard review"
like "$TMP/ent.json" "rose from 20.0% to 40.0%" "a rising reason gets its own recommended action"
grep 'account_type:Mid-Market' "$TMP/f1000.jsonl" > "$TMP/mm.json"
like "$TMP/mm.json" "fewer than min_losses (5) losses then, so no trend" "one previous loss is too few for a trend, and says so"
like "$TMP/run1000.err" "34 closed-lost opportunities read, 24 in the window, 6 in the previous one, 2 outside both, 0 of other account types; 4 findings, 1 groups below min_losses 5" \
    "the run log accounts for every row"
like "$TMP/run1000.err" "dataset 'opportunities': 4 of 34 rows not fully used" "bad rows counted once"
like "$TMP/run1000.err" "first at row 1: opportunity o00: closed_at_date is 'not-a-date'" "with the first example"
is "$(grep -c 'rows not fully used' "$TMP/run1.err")" 1 "reported once even with rows_per_chunk 1"

# Other dimensions: deal size bands (bounds belong to the band above), owners,
# regions with a non-ASCII value; min_losses 1 so every group is a finding.
conf "$TMP/c2.conf" "$TMP/g.jsonl" 7 'as_of = "2026-11-01"; min_losses = 1; group_by = [ "deal_size", "owner", "region" ];'
"$REVOPS" run -c "$TMP/c2.conf" > "$TMP/run2.out" 2> "$TMP/run2.err"
is "$?" 0 "group_by deal_size, owner, region: run ok"
summary "$TMP/g.jsonl" | cut -d'|' -f1,2,4 | sed 's/ *| */|/g; s/ *$//' | LC_ALL=C sort > "$TMP/g.txt"
cat > "$TMP/g.want" <<'EOF'
deal_size:(unknown)|Deals without an amount|top (no reason given) 1/2
deal_size:25000-100000|Deals of 25,000 to under 100,000|top Champion left 2/3
deal_size:<25000|Deals under 25,000|top Champion left 3/18
deal_size:>=100000|Deals of 100,000 or more|top Champion left 1/1
owner:(unknown)|Opportunities without an owner|top Champion left 6/20
owner:U1|Owner U1|top No budget 2/3
owner:U2|Owner U2|top Lost to Snowflake on price 1/1
region:(unknown)|Accounts without a region|top Champion left 6/6
region:EMEA|Region EMEA|top Lost to Snowflake on price 2/6
region:NA|Region NA|top Went dark 3/7
region:東京|Region 東京|top Budget gekürzt – Zürich 2/5
EOF
diff "$TMP/g.want" "$TMP/g.txt" > "$TMP/g.diff"; ok $? "every group of every dimension as worked out by hand"
sed 's/^/# /' "$TMP/g.diff"

# account_types restricts what is reported.
conf "$TMP/c3.conf" "$TMP/h.jsonl" 1000 'as_of = "2026-11-01"; account_types = [ "Enterprise" ];'
"$REVOPS" run -c "$TMP/c3.conf" > "$TMP/run3.out" 2> "$TMP/run3.err"
is "$?" 0 "account_types = [Enterprise]: run ok"
is "$(summary "$TMP/h.jsonl" | cut -d'|' -f1 | tr -d ' ')" "account_type:Enterprise" "only the Enterprise finding"
like "$TMP/run3.err" "20 of other account types" "the other types' rows are counted as skipped"

# Empty results: no rows at all; rows, but none in the window.
conf "$TMP/c4.conf" "$TMP/e.jsonl" 7 'as_of = "2026-11-01";' "AND 0"
"$REVOPS" run -c "$TMP/c4.conf" > "$TMP/run4.out" 2> "$TMP/run4.err"
is "$?" 0 "empty result: run ok"
like "$TMP/run4.err" "input 'opportunities' returned no rows: no closed-lost opportunities to analyse, no findings" "empty result: clear message"
test ! -s "$TMP/e.jsonl"; ok $? "empty result: no findings"
conf "$TMP/c5.conf" "$TMP/e2.jsonl" 7 'as_of = "2030-01-01";'
"$REVOPS" run -c "$TMP/c5.conf" > "$TMP/run5.out" 2> "$TMP/run5.err"
is "$?" 0 "nothing in the window: run ok"
like "$TMP/run5.err" "none of the 34 closed-lost opportunities read closed in the window 2029-01-01..2029-12-31: no findings" "nothing in the window: clear message"
test ! -s "$TMP/e2.jsonl"; ok $? "nothing in the window: no findings"

# Month ends: the window keeps as_of's day of the month, clamped to shorter months.
conf "$TMP/c8.conf" "$TMP/m.jsonl" 7 'as_of = "2026-03-31"; window_months = 1;'
"$REVOPS" run -c "$TMP/c8.conf" > "$TMP/run8.out" 2> "$TMP/run8.err"
is "$?" 0 "as_of 2026-03-31, window_months 1: run ok"
like "$TMP/run8.err" "window 2026-02-28..2026-03-30 (previous 2026-01-31..2026-02-27)" "as_of 2026-03-31 minus one month is 2026-02-28"

# Bad options fail the run with a message naming what is allowed.
conf "$TMP/c6.conf" "$TMP/x.jsonl" 7 'as_of = "2026-11-01"; group_by = [ "segment" ];'
"$REVOPS" run -c "$TMP/c6.conf" > "$TMP/run6.out" 2>&1
rc=$?
test $rc -ne 0 && test $rc -lt 128; ok $? "unknown dimension: the run fails cleanly (exit $rc)"
like "$TMP/run6.out" "option group_by: 'segment' is not a dimension (allowed: account_type, region, industry, owner, deal_size)" "unknown dimension: clear message"
conf "$TMP/c7.conf" "$TMP/x.jsonl" 7 'as_of = "2026-11-01"; group_by = [ "deal_size" ]; deal_size_bands = [ "100000", "25000" ];'
"$REVOPS" run -c "$TMP/c7.conf" > "$TMP/run7.out" 2>&1
rc=$?
test $rc -ne 0 && test $rc -lt 128; ok $? "bands out of order: the run fails cleanly (exit $rc)"
like "$TMP/run7.out" "option deal_size_bands: '25000' is not a number above the previous bound" "bands out of order: clear message"
done_testing
