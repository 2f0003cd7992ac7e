#!/bin/sh
# A3 edge cases on a tiny SQLite fixture built here: an account with no
# usage, a single day of data, ties (at the thresholds and between accounts),
# zero amounts, NULLs and unreadable values, non-ASCII names, an expired
# agreement, two concurrent agreements, open/closed/NULL-stage upsells, a
# chunk boundary inside one account's rows (rows_per_chunk 1 and 7), empty
# results and a bad option.  Each gives the right answer or a clear message,
# and revops never crashes (exit codes checked).
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/edge.db"

# u ACCOUNT YYYY-MM TOTAL: three daily rows (days 01..03) that sum to TOTAL.
u() {
    echo "INSERT INTO consumption_daily_d VALUES ('$2-01', '$1', $3 - 2), ('$2-02', '$1', 1), ('$2-03', '$1', 1);"
}
# flat ACCOUNT TOTAL: the same TOTAL in 2026-07 .. 2026-10.
flat() {
    for m in 07 08 09 10; do u "$1" 2026-$m "$2"; done
}
{
cat <<'SQL'
CREATE TABLE salesforce_account_d (sf_account_id TEXT, sf_account_name TEXT);
CREATE TABLE agreement_f (agreement_id TEXT, sf_account_id TEXT, committed_engine_hours_monthly REAL,
  is_active INTEGER, start_date TEXT, end_date TEXT);
CREATE TABLE opportunity_d (opportunity_id TEXT, sf_account_id TEXT, opportunity_type TEXT, stage_name TEXT);
CREATE TABLE consumption_daily_d (consumption_date TEXT, sf_account_id TEXT, engine_hours);
INSERT INTO salesforce_account_d VALUES
  ('E01', 'Zürich Datenwerk'), ('E02', '東京アナリティクス'), ('E03', 'No Usage Inc'),
  ('E04', 'One Day Ltd'), ('E05', 'At Eighty'), ('E06', 'Ten Percent'), ('E07a', 'Twin A'),
  ('E07b', 'Twin B'), ('E08', 'Zero Commit'), ('E09', 'Open Upsell Co'), ('E10', 'Closed Upsell Co'),
  ('E11', 'Null Stage Co'), ('E12', 'Expired Co'), ('E13', 'Two Agreements'), ('E14', 'Flat Then Up'),
  (NULL, 'no id');
INSERT INTO agreement_f VALUES
  ('G01', 'E01', 100, 1, '2026-01-01', '2026-12-31'),
  ('G03', 'E03', 100, 1, '2026-01-01', '2026-12-31'),
  ('G03x', 'E03', NULL, 1, '2026-01-01', '2026-12-31'),
  ('G03y', 'E03', 100, NULL, '2026-01-01', '2026-12-31'),
  ('G04', 'E04', 100, 1, '2026-01-01', '2026-12-31'),
  ('G05', 'E05', 100, 1, '2026-01-01', '2026-10-31'),
  ('G07a', 'E07a', 100, 1, '2026-01-01', '2026-12-31'),
  ('G07b', 'E07b', 100, 1, '2026-01-01', '2026-12-31'),
  ('G08', 'E08', 0, 1, '2026-01-01', '2026-12-31'),
  ('G09', 'E09', 100, 1, '2026-01-01', '2026-12-31'),
  ('G10', 'E10', 100, 1, '2026-01-01', '2026-12-31'),
  ('G11', 'E11', 100, 1, '2026-01-01', '2026-12-31'),
  ('G12', 'E12', 100, 1, '2025-10-01', '2026-09-30'),
  ('G12old', 'E12', 10, 0, '2024-10-01', '2027-09-30'),
  ('G13b', 'E13', 50, 1, '2026-06-01', '2027-05-31'),
  ('G13a', 'E13', 50, 1, '2025-11-01', '2026-10-31');
INSERT INTO opportunity_d VALUES
  ('O09', 'E09', 'Upsell', 'Proposal'),
  ('O10', 'E10', 'Upsell', 'Closed Won'),
  ('O10b', 'E10', 'New Business', 'Discovery'),
  ('O11', 'E11', 'Expansion', NULL),
  ('O99', NULL, 'Upsell', 'Proposal');
SQL
flat E01 90
u E02 2026-07 100; u E02 2026-08 110; u E02 2026-09 120; u E02 2026-10 130
echo "INSERT INTO consumption_daily_d VALUES ('2026-10-15', 'E04', 300);"
flat E05 80
echo "INSERT INTO consumption_daily_d VALUES ('2026-11-03', 'E05', 1000), ('2026-06-30', 'E05', 1000);"
u E06 2026-07 100; u E06 2026-08 103; u E06 2026-09 106; u E06 2026-10 110
flat E07a 120
flat E07b 120
for m in 07 08 09 10; do echo "INSERT INTO consumption_daily_d VALUES ('2026-$m-01', 'E08', 0), ('2026-$m-02', 'E08', 0.0);"; done
flat E09 95
flat E10 95
flat E11 95
flat E12 150
flat E13 90
u E14 2026-07 100; u E14 2026-08 100; u E14 2026-09 120; u E14 2026-10 130
cat <<'SQL'
INSERT INTO consumption_daily_d VALUES
  ('2026-10-01', NULL, 5), ('2026-10-02', 'E01', NULL), ('not-a-date', 'E01', 5), ('2026-10-05', 'E01', 'abc');
SQL
} | sqlite3 "$db"
is "$?" 0 "fixture built"

# conf RPC FINDINGS OUT [WHERE] [EXTRA-OPTIONS]
conf() {
    w=${4:-1}
    cat > "$3" <<CONF
state_dir = "$TMP/state";
log = { level = "debug"; };
sources = { fx = { plugin = "sqlite"; database = "$db"; rows_per_chunk = $1; }; };
actions = { out = { plugin = "file"; path = "$2"; }; };
pipelines = {
  upsell = {
    analysis = "A3";
    options = { as_of = "2026-11-01"; $5 };
    inputs = {
      accounts = { source = "fx"; query = "SELECT sf_account_id, sf_account_name FROM salesforce_account_d WHERE $w ORDER BY sf_account_id"; };
      agreements = { source = "fx"; query = "SELECT agreement_id, sf_account_id, committed_engine_hours_monthly, is_active, start_date, end_date FROM agreement_f WHERE $w ORDER BY agreement_id"; };
      opportunities = { source = "fx"; query = "SELECT opportunity_id, sf_account_id, opportunity_type, stage_name FROM opportunity_d WHERE $w ORDER BY opportunity_id"; };
      usage = { source = "fx"; query = "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d WHERE $w ORDER BY sf_account_id, consumption_date"; };
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
CONF
}

for rpc in 1000 7 1; do
    conf $rpc "$TMP/f$rpc.jsonl" "$TMP/c.conf"
    "$REVOPS" run -c "$TMP/c.conf" > "$TMP/out$rpc" 2> "$TMP/err$rpc"
    is "$?" 0 "rows_per_chunk $rpc: run ok"
done
cmp -s "$TMP/f1000.jsonl" "$TMP/f7.jsonl"; ok $? "rows_per_chunk 7 (boundaries inside accounts' rows) gives identical findings"
cmp -s "$TMP/f1000.jsonl" "$TMP/f1.jsonl"; ok $? "rows_per_chunk 1 gives identical findings"

"$PYTHON" - "$TMP/f1000.jsonl" > "$TMP/check" <<'PY'
import json, sys
fs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
got = {f["account_id"]: {s["name"]: s["value"] for s in f["signals"]} for f in fs}
want = {
    "E01": {"high_utilization": 90.0},       # non-ASCII name, bad rows of its own ignored
    "E02": {"steady_growth": 30.0},          # non-ASCII name, growth without a commitment
    "E04": {"high_utilization": 100.0},      # a single day of data: 300 / 3 months / 100
    "E06": {"steady_growth": 10.0},          # exactly growth_pct: fires (>=)
    "E07a": {"high_utilization": 120.0},     # twins: same score, ordered by id
    "E07b": {"high_utilization": 120.0},
    "E10": {"high_utilization": 95.0},       # only a closed upsell: not suppressed
    "E13": {"high_utilization": 90.0},       # two active agreements: 50 + 50
}
# E03 no usage, E05 exactly 80% (needs >), E08 zero commitment and zero usage,
# E09 open upsell, E11 open expansion with a NULL stage, E12 expired agreement,
# E14 a flat month (needs a rise every month): no finding.
for a in sorted(set(got) | set(want)):
    if a not in got or a not in want or set(got[a]) != set(want[a]) or \
            any(abs(got[a][k] - want[a][k]) > 1e-6 for k in want[a]):
        print("differs:", a, "got", got.get(a), "want", want.get(a))
ids = [f["account_id"] for f in fs]
order_ok = all((fs[i]["score"], fs[i + 1]["account_id"]) >= (fs[i + 1]["score"], fs[i]["account_id"])
               for i in range(len(fs) - 1))
print("order", "ok" if order_ok and ids.index("E07a") + 1 == ids.index("E07b") else "bad %s" % ids)
by = {f["account_id"]: f for f in fs}
print("names", by["E01"]["account_name"], by["E02"]["account_name"])
print("E01 title:", by["E01"]["title"])
print("E02 title:", by["E02"]["title"])
print("E04 confidence %.2f E01 confidence %.2f" % (by["E04"]["confidence"], by["E01"]["confidence"]))
print("E13 evidence:", by["E13"]["signals"][0]["evidence"])
print("E02 action:", by["E02"]["recommended_actions"][0])
print("E01 action:", by["E01"]["recommended_actions"][0])
print("priorities", " ".join("%s=%s" % (f["account_id"], f["priority"]) for f in fs))
PY
unlike "$TMP/check" "differs:" "exactly the expected accounts, signals and values"
like "$TMP/check" "order ok" "findings sorted by score, ties (E07a, E07b) by account id"
like "$TMP/check" "names Zürich Datenwerk 東京アナリティクス" "non-ASCII account names kept"
like "$TMP/check" "E01 title: Zürich Datenwerk is an upsell opportunity: using 90.0% of its commitment" "E01 title"
like "$TMP/check" "E02 title: 東京アナリティクス is an upsell opportunity: usage up 30.0% over 4 months" "E02 title"
like "$TMP/check" "E04 confidence 0.50 E01 confidence 0.80" "a single day of data: lower confidence"
like "$TMP/check" "agreements G13a (50/month), G13b (50/month), active on 2026-10-31" "two agreements summed, listed by id"
like "$TMP/check" "Propose a committed agreement to 東京アナリティクス" "growth without a commitment: propose one"
like "$TMP/check" "sized to a commitment of about 120 engine hours per month" "expansion sized from the average at utilization_pct"
like "$TMP/check" "E06=medium" "growth exactly at the threshold scores medium"
like "$TMP/check" "E07a=high" "120% utilisation is high"

e="$TMP/err1000"
like "$e" "dataset 'usage': 4 of" "bad usage rows counted"
like "$e" "first at row 1: sf_account_id is NULL" "first bad usage row shown"
like "$e" "dataset 'agreements': 2 of 16 rows not used" "bad agreement rows counted"
like "$e" "agreement G03x: committed_engine_hours_monthly is NULL" "NULL commitment named"
like "$e" "dataset 'opportunities': 1 of 5 rows not used" "opportunity without account counted"
like "$e" "dataset 'accounts': 1 of 16 rows not used" "account without id counted"
like "$e" "account E09 (Open Upsell Co): high_utilization, but open Upsell opportunity O09 (stage Proposal) already covers it" "decoy explained"
like "$e" "account E11 (Null Stage Co): high_utilization, but open Expansion opportunity O11 (stage (no stage))" "NULL stage is open"
like "$e" "15 accounts seen, 10 with an upsell signal, 2 of them already have an open upsell, 8 findings" "summary line"
test "$(grep -c "rows not used" "$e")" = 4; ok $? "each dataset's bad rows reported once"
test "$(grep -c "rows not used" "$TMP/err1")" = 4; ok $? "... also with one row per chunk"

# Empty results: every query returns nothing.
conf 7 "$TMP/empty.jsonl" "$TMP/e.conf" 0
"$REVOPS" run -c "$TMP/e.conf" > "$TMP/eout" 2> "$TMP/eerr"
is "$?" 0 "empty inputs: run ok"
like "$TMP/eerr" "input 'usage' returned no rows (as of 2026-11-01): no usage is known, so neither signal can fire and there are no findings" "empty usage: clear message"
like "$TMP/eerr" "input 'agreements' returned no rows" "empty agreements: clear message"
like "$TMP/eerr" "0 findings" "empty inputs: no findings"
test ! -s "$TMP/empty.jsonl"; ok $? "empty inputs: no finding written"

# Only the usage is empty for the window: as_of years later.
conf 7 "$TMP/late.jsonl" "$TMP/l.conf" 1 'months = 2; growth_months = 3;'
sed -i 's/as_of = "2026-11-01"/as_of = "2030-01-01"/' "$TMP/l.conf"
"$REVOPS" run -c "$TMP/l.conf" > "$TMP/lout" 2> "$TMP/lerr"
is "$?" 0 "as_of after the data: run ok"
like "$TMP/lerr" "0 with an upsell signal" "as_of after the data: no signal"

# A bad option combination is refused with a clear message.
conf 7 "$TMP/bad.jsonl" "$TMP/b.conf" 1 'utilization_full_pct = 70.0;'
"$REVOPS" run -c "$TMP/b.conf" > "$TMP/bout" 2> "$TMP/berr"
rc=$?
test $rc -ne 0 && test $rc -lt 128; ok $? "utilization_full_pct below utilization_pct: refused without a crash (exit $rc)"
like "$TMP/berr" "option utilization_full_pct (70) must be above utilization_pct (80)" "bad option: clear message"
done_testing
