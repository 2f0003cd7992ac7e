#!/bin/sh
# The run state machine with test plugins: chunking, step retry without
# double counting, delivery retry, routing, max_opportunities, dry run,
# session ids, the run record and the deadline.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so tp_flaky_action.so

# conf NAME ROWS FAIL_TIMES ACTION-OPTIONS ROUTE-EXTRA PIPELINE-EXTRA (outbox = false: every
# scenario delivers afresh to the flaky sink; the outbox is tested in tests/outbox.sh)
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
retry = { interval = 0.01; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = $2; fail_times = $3; rows_per_chunk = 1000; }; };
actions = { sink = { plugin = "tp_flaky"; outbox = false; path = "$1.deliveries"; $4 }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( { action = "sink"; $5 } ); $6 }; };
C
}

conf plain 2500 0 "" "" ""
"$REVOPS" run -c "$TMP/plain.conf" --format json --session-id s_plain > "$TMP/out.json" 2> "$TMP/err"
is "$?" 0 "plain run: exit 0"
is "$(jget "$TMP/out.json" "d['runs'][0]['inputs'][0]['rows'], d['runs'][0]['inputs'][0]['chunks']")" "(2500, 3)" "2500 rows in 3 chunks of 1000"
is "$(jget "$TMP/out.json" "d['runs'][0]['finding_list'][0]['signals'][1]['value']")" "3123750" "the analysis saw ids 0..2499 once each"
is "$(jget "$TMP/out.json" "sorted(d['runs'][0]['steps'].keys())")" "['act', 'analyse', 'gather', 'log', 'process']" "each step is timed"
is "$(wc -l < "$TMP/plain.deliveries")" 4 "4 findings delivered"
is "$(jget "$TMP/state/runs.jsonl" "d['session_id'], d['status'], d['findings_by_priority']")" \
   "('s_plain', 'ok', {'critical': 1, 'high': 1, 'medium': 1, 'low': 1})" "the run record is written to state_dir/runs.jsonl"

conf retry 2500 2 "" "" ""
"$REVOPS" run -c "$TMP/retry.conf" --format json > "$TMP/out.json" 2> "$TMP/err"
is "$?" 0 "fetch fails twice (RETRY): the run still succeeds"
is "$(jget "$TMP/out.json" "d['runs'][0]['inputs'][0]['attempts']")" 3 "three attempts"
is "$(jget "$TMP/out.json" "d['runs'][0]['finding_list'][0]['signals'][0]['value'], d['runs'][0]['finding_list'][0]['signals'][1]['value']")" \
   "(2500, 3123750)" "no row handed over twice after the retries"
like "$TMP/err" "[source:tp_rows:gen] fetch: simulated transient failure 1 of 2; retry 1 of 2 in" "the retry is logged with its reason"

conf giveup 1 5 "" "" ""
"$REVOPS" run -c "$TMP/giveup.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 1 "fetch keeps failing before any row: exit 1"
like "$TMP/out" "error: [source:tp_rows:gen] input 'rows' failed after 3 attempts: simulated transient failure 3 of 5" "the failure says which input, how often and why"
test ! -s "$TMP/giveup.deliveries"; ok $? "nothing is delivered from a failed run"

conf flaky 10 0 "fail_first = true;" "" ""
"$REVOPS" run -c "$TMP/flaky.conf" --format json > "$TMP/out.json" 2> "$TMP/err"
is "$?" 0 "deliveries that say RETRY are retried: exit 0"
is "$(jget "$TMP/out.json" "d['runs'][0]['actions'][0]['delivered'], d['runs'][0]['actions'][0]['retried'], d['runs'][0]['actions'][0]['failed']")" \
   "(4, 4, 0)" "4 delivered after 4 retries"
is "$(sort -u "$TMP/flaky.deliveries" | wc -l) $(wc -l < "$TMP/flaky.deliveries")" "4 4" "each finding delivered exactly once"

conf broken 10 0 "fail_always = true;" "" ""
"$REVOPS" run -c "$TMP/broken.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 3 "deliveries that fail: exit 3"
like "$TMP/out" "action sink: 4 routed, 0 delivered, 4 failed: simulated permanent failure" "the summary says what failed and why"

conf routed 10 0 "" 'min_priority = "high";' ""
"$REVOPS" run -c "$TMP/routed.conf" > "$TMP/out" 2> "$TMP/err"
is "$(wc -l < "$TMP/routed.deliveries")" 2 "min_priority high routes only high and critical findings"

conf capped 10 0 "" "" "max_opportunities = 2;"
"$REVOPS" run -c "$TMP/capped.conf" > "$TMP/out" 2> "$TMP/err"
like "$TMP/out" "findings: 2 (critical 1, high 1, medium 0, low 0) of 4, capped by max_opportunities" "max_opportunities keeps the highest"

conf dry 10 0 "" "" ""
REVOPS_NOW=2026-11-01T06:00:00 "$REVOPS" run -c "$TMP/dry.conf" --dry-run > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "dry run: exit 0"
test ! -e "$TMP/dry.deliveries"; ok $? "dry run delivers nothing"
like "$TMP/out" "run analysis_20261101_060000: pipeline p (A5) ok (dry run)" "default session id is analysis_YYYYMMDD_HHMMSS"
like "$TMP/err" "dry run: would deliver 4 findings to action 'sink'" "dry run says what it would deliver"

conf late 1 50 "" "" "timeout = 1; retry = { interval = 5.0; max_attempts = 10; };"
start=$(date +%s)
"$REVOPS" run -c "$TMP/late.conf" > "$TMP/out" 2> "$TMP/err"
rc=$?
took=$(( $(date +%s) - start ))
is "$rc" 1 "a run that cannot finish before its deadline fails"
test "$took" -le 3; ok $? "and stops at the deadline instead of sleeping through retries (${took}s)"
like "$TMP/out" "deadline" "the deadline is named in the error"

# Partial results: the source keeps failing after half its rows.  With
# chunks of 100 the first half (1250 rows) reached the analysis: it
# finalises on them, and everything says "partial".
conf partial 2500 50 "" "" ""
sed -i 's/rows_per_chunk = 1000;/rows_per_chunk = 100;/; s/max_attempts = 3;/max_attempts = 2;/' "$TMP/partial.conf"
"$REVOPS" run -c "$TMP/partial.conf" --format json > "$TMP/out.json" 2> "$TMP/err"
is "$?" 4 "a source failing after some chunks: exit 4 (partial)"
is "$(jget "$TMP/out.json" "d['runs'][0]['status'], d['runs'][0]['partial'], d['runs'][0]['inputs'][0]['partial']")" "('partial', True, True)" \
   "the run and the input say partial"
like "$TMP/out.json" "everything after the first 1250 rows was lost: simulated transient failure 2 of 50" "the run record says what was lost and why"
is "$(jget "$TMP/out.json" "d['runs'][0]['finding_list'][0]['signals'][1]['value'], all(f['partial'] for f in d['runs'][0]['finding_list'])")" \
   "(780625, True)" "the analysis finalised on rows 0..1249, and every finding says partial"
is "$(wc -l < "$TMP/partial.deliveries")" 4 "partial findings are still delivered"

# A source that fails before any row arrived is not partial: the run fails.
conf early 1 50 "" "" ""
sed -i 's/max_attempts = 3;/max_attempts = 2;/' "$TMP/early.conf"
"$REVOPS" run -c "$TMP/early.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 1 "a source failing before any chunk arrived: exit 1"

# max_chunk_bytes cuts wide rows into smaller chunks than rows_per_chunk.
conf bytes 1000 0 "" "" ""
sed -i 's/rows_per_chunk = 1000;/rows_per_chunk = 1000; max_chunk_bytes = 4096;/' "$TMP/bytes.conf"
"$REVOPS" run -c "$TMP/bytes.conf" --format json > "$TMP/out.json" 2> "$TMP/err"
is "$(jget "$TMP/out.json" "d['runs'][0]['inputs'][0]['rows'], d['runs'][0]['inputs'][0]['chunks'] > 10, d['runs'][0]['finding_list'][0]['signals'][1]['value']")" \
   "(1000, True, 499500)" "a 4 KiB budget makes many small chunks and loses nothing"
"$REVOPS" query -c "$TMP/bytes.conf" -s gen -q all --chunk 0 > "$TMP/c.json" 2> "$TMP/err"
is "$(jget "$TMP/c.json" "len(json.dumps(d['results'])) <= 4096, len(d['results']) < 1000")" "(True, True)" \
   "a chunk's results stay within max_chunk_bytes"

"$REVOPS" run -c "$TMP/plain.conf" -p nosuch > "$TMP/out" 2> "$TMP/err"
is "$?" 64 "an unknown pipeline is a usage error"
like "$TMP/err" "has no pipeline named 'nosuch'" "and says so"
"$REVOPS" run -c "$TMP/plain.conf" --format yaml > "$TMP/out" 2> "$TMP/err"
is "$?" 64 "an unknown format is a usage error"

"$REVOPS" run -c "$TMP/plain.conf" --format markdown > "$TMP/out" 2> "$TMP/err"
like "$TMP/out" "| input | source | rows | chunks | attempts |" "markdown summary"

done_testing
