#!/bin/sh
# A3 on the generated demo warehouse agrees with an independent computation
# of the same rule (tests/a3_independent.py, reading the tables directly),
# with the planted truth the generator wrote (100% recall and precision,
# no decoy with an open upsell found), and with itself whatever the chunk size.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
GEN="$top_builddir/demo/revops-demo-gen"

# a3_conf DB RPC FINDINGS OUT: one sqlite source, the A3 pipeline with the shipped
# queries (config/queries.conf), findings to a file.
a3_conf() {
    cat > "$4" <<CONF
state_dir = "$TMP/state";
query_library = "$top_srcdir/config/queries.conf";
log = { level = "debug"; };
sources = { warehouse = { plugin = "sqlite"; database = "$1"; rows_per_chunk = $2; }; };
actions = { out = { plugin = "file"; path = "$3"; }; };
pipelines = {
  upsell = {
    analysis = "A3";
    options = { as_of = "2026-11-01"; };
    inputs = {
      accounts = { source = "warehouse"; named_query = "a3_accounts"; };
      agreements = { source = "warehouse"; named_query = "a3_agreements"; };
      opportunities = { source = "warehouse"; named_query = "a3_opportunities"; };
      usage = { source = "warehouse"; named_query = "a3_usage"; };
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
CONF
}

for seed in 42 7; do
    db="$TMP/w$seed.db"
    "$GEN" --out "$db" --seed $seed --as-of 2026-11-01 > "$TMP/gen.out" 2>&1
    is "$?" 0 "seed $seed: warehouse generated"

    # The independent computation: one line "account signal value" each.
    "$PYTHON" "$top_srcdir/tests/a3_independent.py" "$db" 2026-11-01 > "$TMP/ind$seed.txt"
    is "$?" 0 "seed $seed: independent computation ran"
    test -s "$TMP/ind$seed.txt"; ok $? "seed $seed: the independent rule finds signals ($(wc -l < "$TMP/ind$seed.txt"))"

    for rpc in 1000 7 1; do
        a3_conf "$db" $rpc "$TMP/f$seed-$rpc.jsonl" "$TMP/c.conf"
        "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run.out" 2> "$TMP/run$seed-$rpc.err"
        is "$?" 0 "seed $seed, rows_per_chunk $rpc: run ok"
    done
    like "$TMP/run$seed-1000.err" "already covers it: no finding" "seed $seed: a suppressed decoy is explained in the debug log"

    # What revops found against the independent computation: the same
    # (account, signal) pairs, values equal to the JSON's 4 decimals.
    "$PYTHON" - "$TMP/f$seed-1000.jsonl" "$TMP/ind$seed.txt" > "$TMP/diff" <<'PY'
import json, sys
found = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    assert f["analysis"] == "A3" and f["category"] == "upsell_opportunity", f
    for s in f["signals"]:
        found[(f["account_id"], s["name"])] = s["value"]
ind = {}
for line in open(sys.argv[2], encoding="utf-8"):
    acct, sig, val = line.split()
    ind[(acct, sig)] = float(val)
bad = [k for k in set(found) | set(ind)
       if k not in found or k not in ind or abs(found[k] - ind[k]) > 0.00051]
for k in sorted(bad):
    print("differs:", k, "revops", found.get(k), "independent", ind.get(k))
print("signals", len(found), "independent", len(ind))
PY
    n=$(wc -l < "$TMP/ind$seed.txt")
    like "$TMP/diff" "signals $n independent $n" "seed $seed: as many signals as the independent computation"
    unlike "$TMP/diff" "differs:" "seed $seed: every A3 signal and value equals the independent computation"

    # Recall and precision against the planted accounts; no decoy found.
    "$PYTHON" - "$db.truth.json" "$TMP/f$seed-1000.jsonl" > "$TMP/pr.txt" <<'PY'
import json, sys
a3 = json.load(open(sys.argv[1], encoding="utf-8"))["A3"]
truth = {e["account"] for e in a3["candidates"]} | {e["account"] for e in a3["growth_candidates"]}
decoys = {e["account"] for e in a3["decoys_with_open_upsell"]} | {e["account"] for e in a3["growth_with_open_upsell"]}
found = {json.loads(l)["account_id"] for l in open(sys.argv[2], encoding="utf-8")}
tp = len(truth & found)
print("recall %.3f precision %.3f (%d planted: %d utilisation, %d growth; %d found)"
      % (tp / len(truth), tp / len(found) if found else 0, len(truth), len(a3["candidates"]),
         len(a3["growth_candidates"]), len(found)))
print("decoys found: %d of %d" % (len(decoys & found), len(decoys)))
PY
    like "$TMP/pr.txt" "recall 1.000 precision 1.000" "seed $seed: $(head -1 "$TMP/pr.txt")"
    like "$TMP/pr.txt" "decoys found: 0 of" "seed $seed: $(tail -1 "$TMP/pr.txt")"

    # Chunk size does not change a single finding.
    test -s "$TMP/f$seed-1000.jsonl"; ok $? "seed $seed: findings written"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-7.jsonl"; ok $? "seed $seed: rows_per_chunk 7 gives identical findings"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-1.jsonl"; ok $? "seed $seed: rows_per_chunk 1 gives identical findings"
done
done_testing
