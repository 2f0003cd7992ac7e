#!/bin/sh
# A5 on the generated demo warehouse agrees with an independent computation
# of the same rule (tests/a5_independent.py: Python, sqlite3 module, its own
# dates and medians), with the planted truth the generator wrote (100% recall
# and precision on (account, date, kind)), does not fire on the background
# patterns (A1's declining accounts, onboarding ramps), and gives the same
# findings whatever the chunk size.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
GEN="$top_builddir/demo/revops-demo-gen"

# a5_conf DB RPC FINDINGS OUT: one sqlite source, the A5 pipeline with the shipped
# queries (config/queries.conf), findings to a file.
a5_conf() {
    cat > "$4" <<EOF
state_dir = "$TMP/state";
query_library = "$top_srcdir/config/queries.conf";
sources = { warehouse = { plugin = "sqlite"; database = "$1"; rows_per_chunk = $2; }; };
actions = { findings = { plugin = "file"; path = "$3"; }; };
pipelines = {
  anomalies = {
    analysis = "A5";
    options = { as_of = "2026-11-01"; };
    inputs = {
      accounts = { source = "warehouse"; named_query = "a5_accounts"; };
      usage = { source = "warehouse"; named_query = "a5_usage"; };
    };
    actions = ( { action = "findings"; min_priority = "low"; } );
  };
};
EOF
}

for seed in 42 7; do
    db="$TMP/w$seed.db"
    "$GEN" --out "$db" --seed $seed --as-of 2026-11-01 > "$TMP/gen.out" 2>&1
    is "$?" 0 "seed $seed: warehouse generated"

    # The independent computation: "account date kind value median mad" per anomalous day.
    "$PYTHON" "$top_srcdir/tests/a5_independent.py" "$db" 2026-11-01 > "$TMP/py$seed.txt"
    is "$?" 0 "seed $seed: independent computation ran"
    test -s "$TMP/py$seed.txt"; ok $? "seed $seed: the independent rule finds anomalies ($(wc -l < "$TMP/py$seed.txt"))"

    for rpc in 1000 7 1; do
        a5_conf "$db" $rpc "$TMP/f$seed-$rpc.jsonl" "$TMP/c.conf"
        "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run.out" 2> "$TMP/run.err"
        is "$?" 0 "seed $seed, rows_per_chunk $rpc: run ok"
    done
    like "$TMP/run.err" "A5 as of 2026-11-01: window 2026-08-03..2026-10-31" "seed $seed: the log names the window"

    # revops against the independent computation: the same anomalous days,
    # the same kind, value, median and MAD (to the printed cent).
    "$PYTHON" - "$TMP/f$seed-1000.jsonl" "$TMP/py$seed.txt" > "$TMP/diff" <<'PY'
import json, re, sys
found = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    assert f["analysis"] == "A5" and f["category"] == "usage_anomaly", f
    for s in f["signals"]:
        m = re.match(r"(spike|drop) (\d{4}-\d\d-\d\d) \(\w+\): engine_hours ([\d.]+) against a "
                     r"baseline median of ([\d.]+) \(MAD ([\d.]+)\)", s["evidence"])
        kind, day = m.group(1), m.group(2)
        assert s["name"] == "usage_" + kind, s
        found[(f["account_id"], day, kind)] = (s["value"], float(m.group(4)), float(m.group(5)))
py = {}
for line in open(sys.argv[2], encoding="utf-8"):
    acct, day, kind, x, med, mad = line.split()
    py[(acct, day, kind)] = (float(x), float(med), float(mad))
bad = [k for k in set(found) | set(py)
       if k not in found or k not in py
       or any(abs(a - b) > 0.0051 for a, b in zip(found[k], py[k]))]
for k in sorted(bad):
    print("differs:", k, "revops", found.get(k), "python", py.get(k))
print("anomalies", len(found), "python", len(py))
PY
    n=$(wc -l < "$TMP/py$seed.txt")
    like "$TMP/diff" "anomalies $n python $n" "seed $seed: as many anomalous days as the independent rule"
    unlike "$TMP/diff" "differs:" "seed $seed: every day, kind, value, median and MAD equals the independent computation"

    # Recall and precision against the planted (account, date, kind).
    "$PYTHON" - "$db.truth.json" "$TMP/f$seed-1000.jsonl" > "$TMP/pr.txt" <<'PY'
import json, sys
truth = {(a["account"], a["date"], a["kind"])
         for a in json.load(open(sys.argv[1], encoding="utf-8"))["A5"]["anomalies"]}
found = set()
for line in open(sys.argv[2], encoding="utf-8"):
    f = json.loads(line)
    for s in f["signals"]:
        kind, day = s["evidence"].split()[:2]
        found.add((f["account_id"], day, kind))
tp = len(truth & found)
print("recall %.3f precision %.3f (%d planted, %d found)" % (
    tp / len(truth) if truth else 0, tp / len(found) if found else 0, len(truth), len(found)))
PY
    like "$TMP/pr.txt" "recall 1.000 precision 1.000" "seed $seed: $(cat "$TMP/pr.txt")"
    test "$seed" != 42 || like "$TMP/pr.txt" "(6 planted, 6 found)" "seed 42: the 6 planted anomalies"

    # The background must stay quiet: A1's declining accounts (from the truth)
    # and the accounts that started using the product inside the data (their
    # first usage row after the first day of data, from the warehouse).
    "$PYTHON" - "$db" "$db.truth.json" "$TMP/f$seed-1000.jsonl" > "$TMP/bg.txt" <<'PY'
import json, sqlite3, sys
truth = json.load(open(sys.argv[2], encoding="utf-8"))
declining = {a["account"] for a in truth["A1"]["usage_decline"]}
con = sqlite3.connect(sys.argv[1])
onboarding = {r[0] for r in con.execute(
    "SELECT sf_account_id FROM consumption_daily_d GROUP BY sf_account_id "
    "HAVING MIN(consumption_date) > ?", (truth["data_start"],))}
found = {json.loads(l)["account_id"] for l in open(sys.argv[3], encoding="utf-8")}
print("declining %d onboarding %d" % (len(declining), len(onboarding)))
print("declining firing:", sorted(declining & found) or "none")
print("onboarding firing:", sorted(onboarding & found) or "none")
PY
    like "$TMP/bg.txt" "declining firing: none" "seed $seed: no A1 declining account fires ($(head -1 "$TMP/bg.txt"))"
    like "$TMP/bg.txt" "onboarding firing: none" "seed $seed: no onboarding account fires"
    unlike "$TMP/bg.txt" "declining 0 " "seed $seed: there are declining accounts to check"
    unlike "$TMP/bg.txt" "onboarding 0" "seed $seed: there are onboarding accounts to check"

    # Drops rank above spikes: with defaults the planted x0.1 drops are
    # critical and the x4 spikes high, and the file is ordered by score.
    "$PYTHON" - "$TMP/f$seed-1000.jsonl" > "$TMP/prio.txt" <<'PY'
import json, sys
fs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for f in fs:
    print(f["signals"][0]["name"], f["priority"])
scores = [f["score"] for f in fs]
print("order: " + ("by score" if scores == sorted(scores, reverse=True) else "WRONG"))
PY
    unlike "$TMP/prio.txt" "usage_drop high" "seed $seed: planted drops are not merely high"
    like "$TMP/prio.txt" "usage_drop critical" "seed $seed: planted drops are critical"
    like "$TMP/prio.txt" "usage_spike high" "seed $seed: planted spikes are high"
    like "$TMP/prio.txt" "order: by score" "seed $seed: findings ordered by score"

    # Chunk size does not change a single finding.
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-7.jsonl"; ok $? "seed $seed: rows_per_chunk 7 gives identical findings"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-1.jsonl"; ok $? "seed $seed: rows_per_chunk 1 gives identical findings"
done
done_testing
