#!/bin/sh
# A6 on the generated demo warehouse agrees with an independent computation of
# the same rule (tests/a6_independent.py, reading the database with Python's
# sqlite3 module), with the planted truth (the dominant competitor: recall and
# precision 1.000; per-competitor loss counts now and before), and with itself
# whatever the chunk size.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
GEN="$top_builddir/demo/revops-demo-gen"
INDEP="$top_srcdir/tests/a6_independent.py"

# a6_conf DB RPC FINDINGS OUT: one sqlite source, the A6 pipeline, findings to a file.
a6_conf() {
    cat > "$4" <<CONF
state_dir = "$TMP/state";
sources = { warehouse = { plugin = "sqlite"; database = "$1"; rows_per_chunk = $2; }; };
actions = { findings_file = { plugin = "file"; path = "$3"; }; };
pipelines = {
  competitors = {
    analysis = "A6";
    options = { as_of = "2026-11-01"; };
    inputs = {
      opportunities = { source = "warehouse"; query =
        "SELECT opportunity_id, sf_account_id, stage_name, amount, closed_at_date, closed_won_lost_reason "
        "FROM opportunity_d WHERE stage_name IN (\${won_stage}, \${lost_stage}) AND closed_at_date < \${as_of} "
        "ORDER BY opportunity_id"; };
      calls = { source = "warehouse"; query =
        "SELECT gong_call_id, sf_account_id, call_date, call_title, call_summary FROM gong_call_f "
        "WHERE call_date < \${as_of} ORDER BY gong_call_id"; };
      messages = { source = "warehouse"; query =
        "SELECT message_ts, sf_account_id, message_date, message_text FROM slack_message_f "
        "WHERE message_date < \${as_of} ORDER BY message_ts"; };
    };
    actions = ( { action = "findings_file"; min_priority = "low"; } );
  };
};
CONF
}

for seed in 42 7; do
    db="$TMP/w$seed.db"
    "$GEN" --out "$db" --seed $seed --as-of 2026-11-01 > "$TMP/gen.out" 2>&1
    is "$?" 0 "seed $seed: warehouse generated"

    for rpc in 1000 7 1; do
        a6_conf "$db" $rpc "$TMP/f$seed-$rpc.jsonl" "$TMP/c.conf"
        "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run.out" 2> "$TMP/run.err"
        is "$?" 0 "seed $seed, rows_per_chunk $rpc: run ok"
    done
    like "$TMP/run.err" "competitors active, 1 dominant" "seed $seed: the run log names one dominant competitor"
    n=$(wc -l < "$TMP/f$seed-1000.jsonl")
    test "$n" -ge 2; ok $? "seed $seed: one finding per active competitor ($n)"

    # The independent computation: every count, share, amount, win rate,
    # mention count and priority equal.
    "$PYTHON" "$INDEP" check "$db" "$TMP/f$seed-1000.jsonl" 2026-11-01 > "$TMP/diff" 2>&1
    like "$TMP/diff" "competitors $n found $n dominant" "seed $seed: as many findings as competitors the independent computation sees"
    unlike "$TMP/diff" "differs:" "seed $seed: every A6 number equals the independent computation"
    unlike "$TMP/diff" "Traceback" "seed $seed: the independent computation ran"

    # The planted truth: counts per competitor, and the dominant one.
    "$PYTHON" "$INDEP" truth "$db" "$TMP/f$seed-1000.jsonl" > "$TMP/pr.txt" 2>&1
    unlike "$TMP/pr.txt" "differs:" "seed $seed: window and previous loss counts equal the truth's"
    like "$TMP/pr.txt" "recall 1.000 precision 1.000" "seed $seed: $(tail -1 "$TMP/pr.txt")"

    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-7.jsonl"; ok $? "seed $seed: rows_per_chunk 7 gives identical findings"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-1.jsonl"; ok $? "seed $seed: rows_per_chunk 1 gives identical findings"
done
done_testing
