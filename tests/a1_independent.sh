#!/bin/sh
# A1 on the generated demo warehouse agrees with an independent SQL
# computation of the same rule (tests/a1_independent.sql), with the planted
# truth the generator wrote (100% recall and precision), and with itself
# whatever the chunk size.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
GEN="$top_builddir/demo/revops-demo-gen"

for seed in 42 7; do
    db="$TMP/w$seed.db"
    "$GEN" --out "$db" --seed $seed --as-of 2026-11-01 > "$TMP/gen.out" 2>&1
    is "$?" 0 "seed $seed: warehouse generated"
    sh "$top_srcdir/tests/a1_truth_check.sh" "$db" > "$TMP/truth.out" 2>&1
    ok $? "seed $seed: the planted truth satisfies the SQL rule ($(tail -1 "$TMP/truth.out"))"

    # The independent computation: one line "account signal value" each.
    sqlite3 -separator ' ' "$db" < "$top_srcdir/tests/a1_independent.sql" | sort > "$TMP/sql$seed.txt"
    test -s "$TMP/sql$seed.txt"; ok $? "seed $seed: the SQL rule finds signals ($(wc -l < "$TMP/sql$seed.txt"))"

    for rpc in 1000 7 1; do
        demo_conf "$db" $rpc "$TMP/f$seed-$rpc.jsonl" "$TMP/c.conf"
        "$REVOPS" run -c "$TMP/c.conf" -p at_risk > "$TMP/run.out" 2> "$TMP/run.err"
        is "$?" 0 "seed $seed, rows_per_chunk $rpc: run ok"
    done
    # What revops found against the SQL: the same (account, signal) pairs,
    # days equal, decline percentages within the SQL's 2-decimal rounding.
    "$PYTHON" - "$TMP/f$seed-1000.jsonl" "$TMP/sql$seed.txt" > "$TMP/diff" <<'PY'
import json, sys
found = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    for s in f["signals"]:
        found[(f["account_id"], s["name"])] = s["value"]
sql = {}
for line in open(sys.argv[2], encoding="utf-8"):
    acct, sig, val = line.split()
    sql[(acct, sig)] = float(val)
bad = [k for k in set(found) | set(sql)
       if k not in found or k not in sql
       or abs(found[k] - sql[k]) > (0.0051 if k[1] == "usage_decline" else 0)]
for k in sorted(bad):
    print("differs:", k, "revops", found.get(k), "sql", sql.get(k))
print("signals", len(found), "sql", len(sql))
PY
    like "$TMP/diff" "signals $(wc -l < "$TMP/sql$seed.txt") sql $(wc -l < "$TMP/sql$seed.txt")" "seed $seed: as many signals as the SQL finds"
    unlike "$TMP/diff" "differs:" "seed $seed: every A1 signal and value equals the independent SQL"

    # Recall and precision against the planted accounts.
    "$PYTHON" - "$db.truth.json" "$TMP/f$seed-1000.jsonl" > "$TMP/pr.txt" <<'PY'
import json, sys
truth = set(json.load(open(sys.argv[1], encoding="utf-8"))["A1"]["accounts"])
found = {json.loads(l)["account_id"] for l in open(sys.argv[2], encoding="utf-8")}
tp = len(truth & found)
print("recall %.3f precision %.3f (%d planted, %d found)" % (tp / len(truth), tp / len(found) if found else 0, len(truth), len(found)))
PY
    like "$TMP/pr.txt" "recall 1.000 precision 1.000" "seed $seed: $(cat "$TMP/pr.txt")"

    # Chunk size does not change a single finding.
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-7.jsonl"; ok $? "seed $seed: rows_per_chunk 7 gives identical findings"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-1.jsonl"; ok $? "seed $seed: rows_per_chunk 1 gives identical findings"
done
done_testing
