#!/bin/sh
# Controlled parallelism (core/pool.c) in a real run, against fakes that
# answer after 50 ms and count the requests they are serving at once:
#  - the narrative: 45 findings, one per model call (narrate batch = 1):
#    3 x 5 keeps exactly 15 calls in flight and takes about ceil(45/15) x
#    50 ms; 1 x 1 one at a time, about 45 x 50 ms; 2 x 2 at most 4; the
#    findings with their narratives, the notes and the call log are the
#    same whatever the bound;
#  - the sources: a pipeline whose inputs use different source instances
#    fetches them at the same time, and its findings and input statistics
#    are those of the sequential run.
# The figures measured are printed as TAP comments.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/model_fakes.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
export REVOPS_TEST_PSEUDONYM_KEY="parallel-test-key"
plugin_dir_with tp_rows.so tp_sum.so tp_json_findings.so file.so anthropic.so
LATENCY=0.05
# 45 findings, each its own account (one per model call with batch = 1).
"$PYTHON" - "$TMP/findings.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for k in range(45):
        f.write(json.dumps({"account_id": "001A%05d" % k, "account_name": "Customer %02d GmbH" % k,
                            "priority": ["low", "medium", "high", "critical"][k % 4], "score": round(0.3 + k / 100, 2),
                            "title": "Customer %02d GmbH is at risk" % k, "description": "usage fell %d%%" % (10 + k),
                            "signals": [{"name": "usage_drop", "value": 10 + k, "threshold": 20, "weight": 1,
                                         "evidence": "Customer %02d GmbH used %d hours" % (k, 100 - k)}],
                            "actions": ["Call Customer %02d GmbH" % k]}) + "\n")
PY

conf() {  # conf NAME BATCHES CONCURRENCY [PIPELINE-EXTRA]
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state_$1";
retry = { interval = 0.05; max_attempts = 3; };
classification = {
  default = "RESTRICTED";
  key = "env:REVOPS_TEST_PSEUDONYM_KEY";
  findings = { account_id = "INTERNAL"; account_name = "CONFIDENTIAL"; opportunity_id = "INTERNAL";
               text = "INTERNAL"; evidence = "INTERNAL"; };
};
sources = { gen = { plugin = "tp_rows"; rows = 2; }; };
actions = { out = { plugin = "file"; path = "$TMP/$1.jsonl"; }; };
models = { $MODEL_CONF };
agent = { model = "m"; transcripts = true; };
pipelines = { p = {
  analysis = "A5"; analysis_plugin = "tp_json_findings";
  options = { path = "$TMP/findings.jsonl"; };
  inputs = { rows = { source = "gen"; query = "all"; }; };
  actions = ( { action = "out"; min_priority = "low"; } );
  narrate = { model = "m"; batch = 1; };
  parallelism = { batches = $2; concurrency = $3; };
  $4
}; };
C
}
peak() { curl -s "http://127.0.0.1:$port/peak" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["peak"])'; }
reset_peak() { curl -s -X POST "http://127.0.0.1:$port/peak/reset" > /dev/null; }
# run NAME: revops run --format json; the narrative's wall time in NAME.secs
run() {
    rm -f "$TMP/$1.jsonl"
    reset_peak
    "$REVOPS" run -c "$TMP/$1.conf" --format json --session-id sess_cmp > "$TMP/$1.json" 2> "$TMP/$1.err"
    rc=$?
    [ $rc -eq 0 ] || sed 's/^/# /' "$TMP/$1.err" | head -n 5
    "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["runs"][0]; print(r["model"]["seconds"])' \
        "$TMP/$1.json" > "$TMP/$1.secs" 2>/dev/null
    return $rc
}
# comparable NAME: the run's findings (with narratives) and model record,
# minus timings, session names and the parallelism record
comparable() {
    "$PYTHON" - "$TMP/$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["runs"][0]
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items()
                if k not in ("seconds", "started_at", "session_id", "steps", "parallelism", "peak_in_flight")}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
print(json.dumps(strip(r), sort_keys=True, ensure_ascii=False, indent=1))
PY
}
within() {  # within VALUE LO HI
    "$PYTHON" -c 'import sys; v,lo,hi=map(float,sys.argv[1:]); sys.exit(0 if lo <= v <= hi else 1)' "$@"
}

printf '{"repeat_last": true, "turns": [{"narrate": true}]}\n' > "$TMP/s.json"
FAKE_MODEL_LATENCY=$LATENCY model_fake anthropic "$TMP/s.json" "$TMP/m.rec"

# --- the narrative -----------------------------------------------------------
conf seq 1 1
run seq; is "$?" 0 "1 x 1: the narrated run succeeds"
is "$(requests "$TMP/m.rec")" 45 "1 x 1: 45 findings, batch 1: 45 model calls"
is "$(peak)" 1 "1 x 1: the model fake never saw two calls at once"
seq_secs=$(cat "$TMP/seq.secs")
ok "$(within "$seq_secs" 2.25 6.75; echo $?)" "1 x 1: the narrative took ${seq_secs}s (ideal 45 x 50 ms = 2.25s)"
is "$("$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(r["parallelism"]["batches"], r["parallelism"]["concurrency"], r["parallelism"]["peak_in_flight"]["narrative"])' "$TMP/seq.json")" \
    "1 1 1" "1 x 1: the run record says 1 x 1, peak 1"

: > "$TMP/m.rec"
conf par 3 5
run par; is "$?" 0 "3 x 5: the narrated run succeeds"
is "$(requests "$TMP/m.rec")" 45 "3 x 5: 45 model calls"
is "$(peak)" 15 "3 x 5: the model fake saw exactly 15 calls at once"
par_secs=$(cat "$TMP/par.secs")
ok "$(within "$par_secs" 0.15 0.75; echo $?)" "3 x 5: the narrative took ${par_secs}s (ideal ceil(45/15) x 50 ms = 0.15s)"
is "$("$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(r["parallelism"]["batches"], r["parallelism"]["concurrency"], r["parallelism"]["peak_in_flight"]["narrative"])' "$TMP/par.json")" \
    "3 5 15" "3 x 5: the run record says 3 x 5, peak 15"
comparable seq > "$TMP/seq.cmp"
comparable par > "$TMP/par.cmp"
ok "$(cmp -s "$TMP/seq.cmp" "$TMP/par.cmp"; echo $?)" "3 x 5: findings, narratives, notes and call log identical to 1 x 1 (minus timings)"
diff "$TMP/seq.cmp" "$TMP/par.cmp" | head -n 10 | sed 's/^/# /'
like "$TMP/par.cmp" '"narrated": 45' "3 x 5: every finding narrated"
ok "$(cmp -s "$TMP/seq.jsonl" "$TMP/par.jsonl"; echo $?)" "3 x 5: the file action wrote the same findings, byte for byte"
ok "$(cmp -s "$TMP/state_seq/transcripts/sess_cmp-narrative.CONFIDENTIAL.jsonl" \
           "$TMP/state_par/transcripts/sess_cmp-narrative.CONFIDENTIAL.jsonl"; echo $?)" \
    "3 x 5: the narrative transcript is the sequential run's, byte for byte"
echo "# narrative, 45 calls of ${LATENCY}s: 1 x 1 ${seq_secs}s, 3 x 5 ${par_secs}s"

: > "$TMP/m.rec"
conf two 2 2
run two; is "$?" 0 "2 x 2: the narrated run succeeds"
is "$(peak)" 4 "2 x 2: the model fake saw at most 4 calls at once"
two_secs=$(cat "$TMP/two.secs")
ok "$(within "$two_secs" 0.6 2.5; echo $?)" "2 x 2: the narrative took ${two_secs}s (ideal ceil(45/4) x 50 ms = 0.6s)"
comparable two > "$TMP/two.cmp"
ok "$(cmp -s "$TMP/seq.cmp" "$TMP/two.cmp"; echo $?)" "2 x 2: identical to 1 x 1 (minus timings)"
echo "# narrative 2 x 2: ${two_secs}s"

# A budget that runs out mid-way: never passed, stopped cleanly, one note.
: > "$TMP/m.rec"
printf '{"repeat_last": true, "turns": [{"narrate": true, "usage": {"input": 600, "output": 300}}]}\n' > "$TMP/b.json"
FAKE_MODEL_LATENCY=$LATENCY model_fake anthropic "$TMP/b.json" "$TMP/m.rec"
for b in "1 1" "3 5"; do
    set -- $b
    conf "budget$1" "$1" "$2" "model_budget = 9000;"
    run "budget$1"; is "$?" 0 "$1 x $2, budget 9000: the run succeeds"
    "$PYTHON" - "$TMP/budget$1.json" > "$TMP/budget$1.chk" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
s, n = r["model"]["session"], r["model"]["narrative"]
print(s["input_tokens"] + s["output_tokens"] <= 9000 + 900, s["budget_exhausted"], n["narrated"] < 45,
      sum("narrative stopped" in x for x in n["notes"]), n["narrated"] == n["batches"] - 1)
PY
    is "$(cat "$TMP/budget$1.chk")" "True True True 1 True" \
        "$1 x $2, budget 9000: spent within the budget (+ one call), noted once, every counted batch but the stopping one narrated"
done
echo "# budget 9000 at 900 tokens a call: 1 x 1 narrated $(jget "$TMP/budget1.json" "d['runs'][0]['model']['narrative']['narrated']"), 3 x 5 $(jget "$TMP/budget3.json" "d['runs'][0]['model']['narrative']['narrated']")"

# --- the sources ---------------------------------------------------------------
# Three inputs on two source instances, each fetch 400 ms: gen1 serves rows and
# more2 (one after the other: one instance, one ctx), gen2 serves more at the
# same time.  Sequential: 3 x 0.4 s; parallel: 2 x 0.4 s.
sconf() {  # sconf NAME BATCHES CONCURRENCY
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state_$1";
sources = { gen1 = { plugin = "tp_rows"; rows = 50; delay_ms = 400; rows_per_chunk = 7; };
            gen2 = { plugin = "tp_rows"; rows = 30; delay_ms = 400; id_base = 1000; rows_per_chunk = 4; }; };
actions = { out = { plugin = "file"; path = "$TMP/$1.jsonl"; }; };
pipelines = { p = {
  analysis = "A5"; analysis_plugin = "tp_sum";
  options = { findings = 3; order_signal = true; };
  inputs = { rows = { source = "gen1"; query = "all"; };
             more = { source = "gen2"; query = "all"; };
             more2 = { source = "gen1"; query = "again"; }; };
  actions = ( { action = "out"; min_priority = "low"; } );
  parallelism = { batches = $2; concurrency = $3; };
}; };
C
}
srun() {
    rm -f "$TMP/$1.jsonl"
    "$REVOPS" run -c "$TMP/$1.conf" --format json --session-id sess_src > "$TMP/$1.json" 2> "$TMP/$1.err"
    rc=$?
    [ $rc -eq 0 ] || sed 's/^/# /' "$TMP/$1.err" | head -n 5
    return $rc
}
sconf sseq 1 1
srun sseq; is "$?" 0 "sources 1 x 1: the run succeeds"
sconf spar 3 5
srun spar; is "$?" 0 "sources 3 x 5: the run succeeds"
comparable sseq > "$TMP/sseq.cmp"
comparable spar > "$TMP/spar.cmp"
ok "$(cmp -s "$TMP/sseq.cmp" "$TMP/spar.cmp"; echo $?)" "sources 3 x 5: findings (their order signal too) and input stats (rows, chunks, attempts) identical to 1 x 1"
diff "$TMP/sseq.cmp" "$TMP/spar.cmp" | head -n 10 | sed 's/^/# /'
ok "$(cmp -s "$TMP/sseq.jsonl" "$TMP/spar.jsonl"; echo $?)" "sources 3 x 5: the file action wrote the same findings, byte for byte"
is "$(jget "$TMP/spar.json" "[(i['input'], i['rows'], i['chunks']) for i in d['runs'][0]['inputs']]")" \
    "[('rows', 50, 8), ('more', 30, 8), ('more2', 50, 8)]" "sources: every input's rows and chunks, in declared order"
is "$(jget "$TMP/spar.json" "d['runs'][0]['parallelism']['peak_in_flight']['sources']")" 2 "sources 3 x 5: two instances fetched at once (peak 2)"
is "$(jget "$TMP/sseq.json" "d['runs'][0]['parallelism']['peak_in_flight']['sources']")" 1 "sources 1 x 1: one at a time (peak 1)"
sseq_secs=$(jget "$TMP/sseq.json" "d['runs'][0]['seconds']")
spar_secs=$(jget "$TMP/spar.json" "d['runs'][0]['seconds']")
ok "$(within "$sseq_secs" 1.2 3.0; echo $?)" "sources 1 x 1: ${sseq_secs}s (ideal 3 x 0.4 = 1.2s)"
ok "$(within "$spar_secs" 0.8 1.1; echo $?)" "sources 3 x 5: ${spar_secs}s (ideal 2 x 0.4 = 0.8s: gen1's two inputs in a row, gen2's beside them)"
echo "# sources, three 400 ms fetches on two instances: 1 x 1 ${sseq_secs}s, 3 x 5 ${spar_secs}s"

done_testing
