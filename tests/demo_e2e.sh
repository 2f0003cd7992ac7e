#!/bin/sh
# The demo end to end, as the README runs it: the report names the at-risk
# accounts with their signals, the findings file holds them, the run record
# says what happened.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
demo_conf "$db" 1000 "$TMP/findings.jsonl" "$TMP/demo.conf"

"$REVOPS" run -c "$TMP/demo.conf" -p at_risk --session-id demo_e2e > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "the demo runs: exit 0"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["A1"]["accounts"]))' "$db.truth.json")
is "$(wc -l < "$TMP/findings.jsonl")" "$n" "one finding per planted at-risk account ($n)"
like "$TMP/out" "revops demo" "the report has its title"
like "$TMP/out" "Analysis:    A1 at-risk accounts (pipeline at_risk)" "the digest names each finding's analysis and pipeline"
like "$TMP/out" "pipeline at_risk" "the report names the pipeline"
like "$TMP/out" "CRITICAL" "the report groups by priority"
like "$TMP/out" "usage_decline" "the report shows the usage signal"
like "$TMP/out" "renewal_past_due" "the report shows the renewal signal"
like "$TMP/out" "stalled_opportunity" "the report shows the stalled-opportunity signal"
like "$TMP/out" "What to do:" "the report recommends actions"
like "$TMP/out" "Why:" "the report explains each finding"
# Every planted account's name appears in the report.
"$PYTHON" - "$db" "$db.truth.json" "$TMP/out" > "$TMP/names" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
truth = json.load(open(sys.argv[2], encoding="utf-8"))["A1"]["accounts"]
report = open(sys.argv[3], encoding="utf-8").read()
missing = [a for a in truth
           if db.execute("SELECT sf_account_name FROM salesforce_account_d WHERE sf_account_id=?", (a,)).fetchone()[0] not in report]
print("missing:", missing)
PY
like "$TMP/names" "missing: []" "every at-risk account is named in the report"
like "$TMP/out" "run demo_e2e: pipeline at_risk (A1) ok" "the run summary follows"
like "$TMP/out" "input usage <- warehouse: " "the summary says how many rows each input read"
is "$(jget "$TMP/state/runs.jsonl" "d['session_id'], d['status'], d['findings'] == $n")" "('demo_e2e', 'ok', True)" "the run record agrees"

# Without digest: one report per pipeline, with its own header.
sed -e 's|digest = true;|digest = false;|' "$TMP/demo.conf" > "$TMP/nodigest.conf"
"$REVOPS" run -c "$TMP/nodigest.conf" > "$TMP/nd.out" 2>/dev/null
like "$TMP/nd.out" "Pipeline: at_risk   Analysis: A1 (at-risk accounts)" "digest = false: a report per pipeline names it"

# Formats: markdown and json reports of the same run.
sed -e '/# text | markdown | json/s|"text"|"markdown"|' "$TMP/demo.conf" > "$TMP/md.conf"
"$REVOPS" run -c "$TMP/md.conf" > "$TMP/md.out" 2>/dev/null
like "$TMP/md.out" "## " "markdown report has headings"
# (the report goes to a file here: it writes to standard output by default)
sed -e 's|path = "-";|path = "report.txt";|' "$TMP/demo.conf" > "$TMP/json.conf"
"$REVOPS" run -c "$TMP/json.conf" --format json > "$TMP/run.json" 2>/dev/null
is "$(jget "$TMP/run.json" "len(d['runs'][0]['finding_list']) == $n and all(f['signals'] for f in d['runs'][0]['finding_list'])")" \
   "True" "--format json carries every finding with its signals"

# A missing warehouse is a clear error naming the file, not a crash.
demo_conf "$TMP/nope.db" 1000 "$TMP/f2.jsonl" "$TMP/bad.conf"
"$REVOPS" run -c "$TMP/bad.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 1 "a missing database: exit 1"
like "$TMP/out" "$TMP/nope.db" "the error names the database file"
done_testing
