#!/bin/sh
# The demo end to end, as the README runs it: six pipelines (A1-A6), one
# digest report ranked by priority that names the accounts with their signals,
# the findings file holds every finding, the run records say what happened.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
demo_conf "$db" 1000 "$TMP/findings.jsonl" "$TMP/demo.conf"

"$REVOPS" run -c "$TMP/demo.conf" --session-id demo_e2e > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "the demo runs: exit 0"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["A1"]["accounts"]))' "$db.truth.json")
is "$(grep -c '"analysis":"A1"' "$TMP/findings.jsonl")" "$n" "one A1 finding per planted at-risk account ($n)"
for a in A1 A2 A3 A4 A5 A6; do
    c=$(grep -c "\"analysis\":\"$a\"" "$TMP/findings.jsonl")
    ok "$([ "$c" -gt 0 ]; echo $?)" "$a has findings in the demo ($c)"
done
# Every finding explains itself: a description, signals each with evidence, and what to do;
# and the report shows each finding's title.
"$PYTHON" - "$TMP/findings.jsonl" "$TMP/out" > "$TMP/explained" <<'PY'
import json, sys
fs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
report = open(sys.argv[2], encoding="utf-8").read()
bad = [f["title"] for f in fs
       if not f.get("description") or not f["signals"] or not f.get("recommended_actions")
       or any(not s.get("evidence") for s in f["signals"]) or f["title"] not in report]
print("unexplained: %d of %d %r" % (len(bad), len(fs), bad[:3]))
PY
like "$TMP/explained" "unexplained: 0 of " "every finding has a description, evidenced signals and actions, and is in the report"
# The digest's overview: one line per pipeline, whose counts are what the file got.
"$PYTHON" - "$TMP/findings.jsonl" "$TMP/out" > "$TMP/overview" <<'PY'
import json, re, sys
count = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    count[f["analysis"]] = count.get(f["analysis"], 0) + 1
report = open(sys.argv[2], encoding="utf-8").read()
bad = []
for a, n in sorted(count.items()):
    m = re.search(r"^  \S+ +%s [a-z -]+: (\d+) findings?:" % a, report, re.M)
    if not m or int(m.group(1)) != n:
        bad.append((a, n, m and m.group(1)))
total = re.search(r"^(\d+) findings?: .* across 6 pipelines$", report, re.M)
print("overview ok" if not bad and total and int(total.group(1)) == sum(count.values()) else "overview differs: %r" % bad)
PY
like "$TMP/overview" "overview ok" "the digest's overview counts each pipeline's findings, across 6 pipelines"
# Ranked by priority across analyses: the priorities in report order never rise.
"$PYTHON" - "$TMP/out" > "$TMP/order" <<'PY'
import re, sys
rank = {"CRITICAL": 3, "HIGH": 2, "MEDIUM": 1, "LOW": 0}
heads = [rank[m] for m in re.findall(r"^(CRITICAL|HIGH|MEDIUM|LOW) \(\d+\)$", open(sys.argv[1], encoding="utf-8").read(), re.M)]
print("ranked" if heads and heads == sorted(heads, reverse=True) else "not ranked: %r" % heads)
PY
like "$TMP/order" "ranked" "one report, grouped by priority, highest first"
like "$TMP/out" "revops demo" "the report has its title"
like "$TMP/out" "Analysis:    A1 at-risk accounts (pipeline at_risk)" "the digest names each finding's analysis and pipeline"
like "$TMP/out" "Analysis:    A6 competitive intelligence (pipeline competitors)" "... A6 included"
like "$TMP/out" "Databricks" "the dominant competitor is named"
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
like "$TMP/out" "run demo_e2e_at_risk: pipeline at_risk (A1) ok" "the run summaries follow the report"
like "$TMP/out" "run demo_e2e_competitors: pipeline competitors (A6) ok" "... one per pipeline"
like "$TMP/out" "input usage <- warehouse: " "the summary says how many rows each input read"
"$PYTHON" - "$TMP/state/runs.jsonl" > "$TMP/records" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
print(len(recs), sorted(r["pipeline"] for r in recs), all(r["status"] == "ok" for r in recs))
PY
is "$(cat "$TMP/records")" "6 ['anomalies', 'at_risk', 'competitors', 'health', 'lost_reasons', 'upsell'] True" "a run record per pipeline, all ok"

# The whole demo does not depend on the chunk size.
demo_conf "$db" 7 "$TMP/findings7.jsonl" "$TMP/demo7.conf"
"$REVOPS" run -c "$TMP/demo7.conf" > /dev/null 2>&1
is "$?" 0 "the demo with rows_per_chunk 7: exit 0"
cmp -s "$TMP/findings.jsonl" "$TMP/findings7.jsonl"; ok $? "rows_per_chunk 7 gives byte-identical findings for all six analyses"

# Without digest: one report per pipeline, with its own header.
sed -e 's|digest = true;|digest = false;|' "$TMP/demo.conf" > "$TMP/nodigest.conf"
"$REVOPS" run -c "$TMP/nodigest.conf" -p at_risk > "$TMP/nd.out" 2>/dev/null
like "$TMP/nd.out" "Pipeline: at_risk   Analysis: A1 (at-risk accounts)" "digest = false: a report per pipeline names it"

# Formats: markdown and json reports of the same run.
sed -e '/# text | markdown | json/s|"text"|"markdown"|' "$TMP/demo.conf" > "$TMP/md.conf"
"$REVOPS" run -c "$TMP/md.conf" -p at_risk > "$TMP/md.out" 2>/dev/null
like "$TMP/md.out" "## " "markdown report has headings"
# (the report goes to a file here: it writes to standard output by default)
sed -e 's|path = "-";|path = "report.txt";|' "$TMP/demo.conf" > "$TMP/json.conf"
"$REVOPS" run -c "$TMP/json.conf" -p at_risk --format json > "$TMP/run.json" 2>/dev/null
is "$(jget "$TMP/run.json" "len(d['runs'][0]['finding_list']) == $n and all(f['signals'] for f in d['runs'][0]['finding_list'])")" \
   "True" "--format json carries every finding with its signals"

# A missing warehouse is a clear error naming the file, not a crash.
demo_conf "$TMP/nope.db" 1000 "$TMP/f2.jsonl" "$TMP/bad.conf"
"$REVOPS" run -c "$TMP/bad.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 1 "a missing database: exit 1"
like "$TMP/out" "$TMP/nope.db" "the error names the database file"
done_testing
