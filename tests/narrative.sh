#!/bin/sh
# The analysis narrative (core/narrate.c) on the demo's A1 pipeline, against
# each provider's fake: every finding gets a summary and next steps written as
# strict JSON, names mapped back from their pseudonyms; scores, priorities and
# fingerprints are those of the deterministic run; one repair after an invalid
# answer; twice invalid, a model that is down, or a spent budget leave the
# deterministic findings exactly as they were and the run record says why.
# The data agent runs first when the pipeline asks (agent = true) with the
# spec's request template, target and context from the trigger payload.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/model_fakes.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
export REVOPS_TEST_PSEUDONYM_KEY="narrative-test-key"
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
cp "$top_srcdir/config/queries.conf" "$TMP/queries.conf"

conf() {  # conf NAME PIPELINE-EXTRA [TOP-EXTRA]
    cat > "$TMP/$1.conf" <<C
state_dir = "$TMP/state";
retry = { interval = 0.05; max_attempts = 3; };
query_library = "queries.conf";
knowledge_base = "$top_srcdir/config/kb";
classification = {
  default = "RESTRICTED";
  key = "env:REVOPS_TEST_PSEUDONYM_KEY";
  findings = { account_id = "INTERNAL"; account_name = "CONFIDENTIAL"; opportunity_id = "INTERNAL";
               text = "INTERNAL"; evidence = "INTERNAL"; };
};
sources = { warehouse = { plugin = "sqlite"; database = "$db";
  fields = { sf_account_id = "INTERNAL"; sf_account_name = "CONFIDENTIAL"; n = "PUBLIC"; c = "PUBLIC"; }; }; };
actions = { out = { plugin = "file"; path = "$TMP/$1.jsonl"; };
            report = { plugin = "report"; format = "text"; path = "$TMP/$1.report"; }; };
$3
pipelines = { at_risk = {
  analysis = "A1";
  options = { as_of = "2026-11-01"; };
  inputs = {
    accounts = { source = "warehouse"; named_query = "a1_accounts"; };
    opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
    usage = { source = "warehouse"; named_query = "a1_usage"; };
  };
  actions = ( { action = "out"; min_priority = "low"; }, { action = "report"; min_priority = "low"; } );
  $2
}; };
C
}
run() {  # run NAME [revops run args] -> $TMP/NAME.out/.err, status
    n=$1; shift
    rm -f "$TMP/$n.jsonl"
    "$REVOPS" run -c "$TMP/$n.conf" "$@" > "$TMP/$n.out" 2> "$TMP/$n.err"
}
# facts FILE: each finding without its narrative, sorted (what must not change)
facts() {
    "$PYTHON" -c '
import json, sys
for l in sorted(open(sys.argv[1], encoding="utf-8")):
    f = json.loads(l); f.pop("narrative", None); print(json.dumps(f, sort_keys=True, ensure_ascii=False))' "$1"
}

# Deterministic mode: no model at all.
conf plain ""
run plain; is "$?" 0 "deterministic mode: the pipeline runs without any model"
N=$(wc -l < "$TMP/plain.jsonl" | tr -d ' ')
ok "$([ "$N" -gt 5 ]; echo $?)" "deterministic mode: $N findings"
unlike "$TMP/plain.jsonl" '"narrative"' "deterministic mode: no narrative"
unlike "$TMP/plain.report" "Summary (written by" "deterministic mode: the report has no model summary"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
is "$(jget "$TMP/rec.json" "'model' in d")" False "deterministic mode: no model in the run record"
facts "$TMP/plain.jsonl" > "$TMP/plain.facts"
"$PYTHON" -c 'import json,sys; [print(json.loads(l)["account_name"]) for l in open(sys.argv[1], encoding="utf-8")]' "$TMP/plain.jsonl" | sort -u > "$TMP/names"

for P in anthropic openai bedrock; do
    echo "# provider $P"
    REC="$TMP/$P.rec"
    printf '{"repeat_last": true, "turns": [{"narrate": true}]}\n' > "$TMP/s.json"
    model_fake "$P" "$TMP/s.json" "$REC"
    conf "$P" "narrate = { model = \"m\"; batch = 5; };" "models = { $MODEL_CONF };"
    run "$P"; is "$?" 0 "$P: a narrated run succeeds"
    batches=$(( (N + 4) / 5 ))
    is "$(requests "$REC")" "$batches" "$P: one model call per batch of 5 ($batches)"
    "$PYTHON" - "$TMP/$P.jsonl" > "$TMP/check" <<'PY'
import json, sys
fs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
bad = [f["account_name"] for f in fs
       if not f.get("narrative") or not f["narrative"]["summary"].startswith(f["account_name"] + " needs attention")
       or not f["narrative"]["next_steps"] or "ANON_" in json.dumps(f["narrative"], ensure_ascii=False)]
print("%d of %d narrated, names mapped back; bad: %r" % (len(fs) - len(bad), len(fs), bad[:3]))
PY
    is "$(cat "$TMP/check")" "$N of $N narrated, names mapped back; bad: []" "$P: every finding narrated, its account name mapped back from the pseudonym"
    facts "$TMP/$P.jsonl" > "$TMP/$P.facts"
    ok "$(cmp -s "$TMP/plain.facts" "$TMP/$P.facts"; echo $?)" "$P: scores, priorities, fingerprints and text are the deterministic run's"
    bodies "$REC" "$TMP/bodies"
    leaked=$(while IFS= read -r name; do grep -qF -- "$name" "$TMP/bodies" && echo "$name"; done < "$TMP/names")
    is "$leaked" "" "$P: no account name in any request body (CONFIDENTIAL: pseudonymised, scrubbed from titles)"
    like "$TMP/bodies" "ANON_" "$P: pseudonyms went instead"
    like "$TMP/bodies" '\"required\":[\"narratives\"]' "$P: the schema was in the prompt"
    tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
    is "$(jget "$TMP/rec.json" "(d['model']['narrative']['narrated'], d['model']['narrative']['invalid_batches'], d['model']['session']['calls'])")" \
        "($N, 0, $batches)" "$P: run record: narrated, no invalid batch, calls"
    like "$TMP/$P.out" "$N of $N findings narrated" "$P: the run summary says so"
    is "$(grep -c 'Summary (written by' "$TMP/$P.report")" "$N" "$P: the report shows every finding's model summary"
    first=$(head -n 1 "$TMP/names")
    like "$TMP/$P.report" "$first needs attention" "$P: with the account's name mapped back ($first)"
    like "$TMP/$P.report" "Schedule a call with $first this week" "$P: and the model's next steps"
done

# One repair: an invalid answer, then a valid one.
printf '{"turns": [{"text": "Here you go: not JSON"}, {"narrate": true}]}\n' > "$TMP/s.json"
model_fake anthropic "$TMP/s.json" "$TMP/r.rec"
conf repair "narrate = { model = \"m\"; batch = 100; };" "models = { $MODEL_CONF };"
run repair; is "$?" 0 "repair: run succeeds"
is "$(requests "$TMP/r.rec")" 2 "repair: the invalid answer got exactly one repair request"
bodies "$TMP/r.rec" "$TMP/bodies"
like "$TMP/bodies" "That answer is not valid: the answer is not JSON" "repair: the model was told what was wrong"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
is "$(jget "$TMP/rec.json" "(d['model']['narrative']['narrated'], d['model']['narrative']['repaired_batches'])")" "($N, 1)" "repair: every finding narrated after one repair"

# Invalid twice (valid JSON the schema refuses): the deterministic text stays, noted.
printf '{"turns": [{"text": "nope"}, {"text": "{\\"narratives\\": [{\\"fingerprint\\": \\"x\\", \\"summary\\": \\"\\", \\"next_steps\\": []}]}"}]}\n' > "$TMP/s.json"
model_fake anthropic "$TMP/s.json" "$TMP/r.rec"
conf invalid "narrate = { model = \"m\"; batch = 100; };" "models = { $MODEL_CONF };"
run invalid; is "$?" 0 "invalid twice: the run still succeeds"
is "$(requests "$TMP/r.rec")" 2 "invalid twice: one repair, no more"
facts "$TMP/invalid.jsonl" > "$TMP/invalid.facts"
ok "$(cmp -s "$TMP/plain.facts" "$TMP/invalid.facts"; echo $?)" "invalid twice: every finding kept, unchanged"
unlike "$TMP/invalid.jsonl" '"narrative"' "invalid twice: no narrative added"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
like "$TMP/rec.json" "kept its deterministic text: the answer was invalid after one repair: \$.narratives[0].fingerprint: is shorter than 64 characters" \
    "invalid twice: the run record notes it, with the schema error"

# The model is down: findings stand.
printf '{"repeat_last": true, "turns": [{"status": 503, "error": "overloaded"}]}\n' > "$TMP/s.json"
model_fake openai "$TMP/s.json" "$TMP/r.rec"
conf down "narrate = \"m\";" "models = { $MODEL_CONF };"
run down; is "$?" 0 "model down: the run succeeds with the deterministic findings"
facts "$TMP/down.jsonl" > "$TMP/down.facts"
ok "$(cmp -s "$TMP/plain.facts" "$TMP/down.facts"; echo $?)" "model down: every finding, unchanged"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
like "$TMP/rec.json" "narrative stopped at batch 1" "model down: noted in the run record"

# A spent budget stops the narrative cleanly after the first batch.
printf '{"repeat_last": true, "turns": [{"narrate": true, "usage": {"input": 900, "output": 300}}]}\n' > "$TMP/s.json"
model_fake bedrock "$TMP/s.json" "$TMP/r.rec"
conf budget "narrate = { model = \"m\"; batch = 5; }; model_budget = 1000;" "models = { $MODEL_CONF };"
run budget; is "$?" 0 "budget: the run succeeds"
is "$(requests "$TMP/r.rec")" 1 "budget: no call after the budget is spent"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
is "$(jget "$TMP/rec.json" "(d['model']['narrative']['narrated'], d['model']['session']['budget_exhausted'])")" "(5, True)" "budget: 5 narrated, the budget noted as spent"
like "$TMP/rec.json" "the token budget of 1000 is spent" "budget: the note says so"

# The data agent first, with the spec's request template and the trigger's target and context.
printf '{"turns": [{"tool_calls": [{"name": "warehouse__sql_query", "input": {"sql": "SELECT count(*) AS n FROM salesforce_account_d"}}]}, {"text": "There are many accounts."}, {"narrate": true}], "repeat_last": true}\n' > "$TMP/s.json"
model_fake anthropic "$TMP/s.json" "$TMP/r.rec"
conf agent "narrate = { model = \"m\"; batch = 100; }; agent = true;" "models = { $MODEL_CONF }; agent = { model = \"m\"; };"
"$REVOPS" trigger -c "$TMP/agent.conf" '{"triggerType": "manual", "sessionId": "trig_agent_1", "analysisType": "A1", "target": "account_abc123", "context": "closed_lost_opportunities"}' > "$TMP/agent.out" 2> "$TMP/agent.err"
is "$?" 0 "agent + narrative: the triggered run succeeds"
bodies "$TMP/r.rec" "$TMP/bodies"
like "$TMP/bodies" "Gather all data required for A1 analysis. Target: account_abc123. Additional context: closed_lost_opportunities" "agent: the spec's request template with the trigger's target and context"
like "$TMP/bodies" "The data agent gathered this context:" "agent: its notes went to the narrative"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
is "$(jget "$TMP/rec.json" "(d['model']['agent']['stop'], d['model']['agent']['tool_calls'][0]['rows'], d['model']['narrative']['narrated'])")" "('answer', 1, $N)" "agent: recorded (answer, one tool call of 1 row) and every finding narrated"
done_testing
