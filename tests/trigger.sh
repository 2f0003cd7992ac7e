#!/bin/sh
# `revops trigger` takes the spec's EventBridge payload (argument or stdin)
# and runs the pipelines of that analysis type.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so tp_flaky_action.so
cat > "$TMP/t.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
sources = { gen = { plugin = "tp_rows"; rows = 100; }; };
actions = { sink = { plugin = "tp_flaky"; outbox = false; path = "deliveries"; }; };
pipelines = { anomalies = { analysis = "A5"; options = { findings = 6; };
                            inputs = { rows = { source = "gen"; query = "all"; }; }; actions = ( "sink" ); }; };
C

"$REVOPS" trigger -c "$TMP/t.conf" --format json \
    '{"triggerType":"scheduled","analysisType":"A5","maxOpportunities":3,"sessionId":"analysis_20261101_060000"}' \
    > "$TMP/out.json" 2> "$TMP/err"
is "$?" 0 "a payload as argument: exit 0"
is "$(jget "$TMP/out.json" "d['runs'][0]['session_id'], d['runs'][0]['trigger'], d['runs'][0]['pipeline'], d['runs'][0]['findings'], d['runs'][0]['findings_total']")" \
   "('analysis_20261101_060000', 'scheduled', 'anomalies', 3, 6)" "sessionId, triggerType and maxOpportunities are applied"
is "$(wc -l < "$TMP/deliveries")" 3 "maxOpportunities limits what is delivered"

echo '{"triggerType":"manual","analysisType":"A5"}' | REVOPS_NOW=2026-11-02T07:08:09 "$REVOPS" trigger -c "$TMP/t.conf" - > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "a payload on stdin: exit 0"
like "$TMP/out" "run analysis_20261102_070809: pipeline anomalies (A5) ok" "no sessionId: the default analysis_YYYYMMDD_HHMMSS"

"$REVOPS" trigger -c "$TMP/t.conf" '{"triggerType":"scheduled","analysisType":"A2"}' > "$TMP/out" 2> "$TMP/err"
is "$?" 65 "no pipeline for the analysis: exit 65"
like "$TMP/err" "has no pipeline for analysis A2" "and says so"

"$REVOPS" trigger -c "$TMP/t.conf" '{"triggerType":"scheduled","analysisType":"A9"}' > "$TMP/out" 2> "$TMP/err"
is "$?" 65 "a bad analysisType: exit 65"
like "$TMP/err" "\"analysisType\" is \"A9\"; expected one of A1, A2, A3, A4, A5, A6" "the bad field is named"

"$REVOPS" trigger -c "$TMP/t.conf" '{"triggerType":"scheduled",' > "$TMP/out" 2> "$TMP/err"
is "$?" 65 "broken JSON: exit 65"
like "$TMP/err" "trigger payload is not valid JSON" "broken JSON is reported as such"

"$REVOPS" trigger -c "$TMP/t.conf" --dry-run '{"triggerType":"scheduled","analysisType":"A5"}' > "$TMP/out" 2> "$TMP/err"
is "$?" 0 "dry-run trigger: exit 0"
is "$(wc -l < "$TMP/deliveries")" 9 "a dry-run trigger delivers nothing (3 + 6 from the two real runs)"

# The command line's own help and version.
"$REVOPS" --version > "$TMP/out" 2>&1
is "$?" 0 "--version: exit 0"
like "$TMP/out" "(plugin ABI 1.5)" "--version names the plugin ABI"
"$REVOPS" --help > "$TMP/out" 2>&1
is "$?" 0 "--help: exit 0"
like "$TMP/out" "78 invalid configuration" "--help documents the exit codes"
"$REVOPS" frobnicate > "$TMP/out" 2>&1
is "$?" 64 "an unknown command: exit 64"
like "$TMP/out" "unknown command 'frobnicate'" "and it is named"

done_testing
