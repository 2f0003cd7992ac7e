#!/bin/sh
# The gong source through the real binary, against tests/fake_gong.py (Gong API v2 as
# its public docs describe it): Basic authentication, cursor paging (every page, in
# order, once), the Salesforce account of each call's CRM context, the query's
# filters, the row limit, and every fault the fake injects, each with what revops
# did.  No secret may appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with gong.so tp_sum.so

KEY=AK-gong-test-key-5151
SECRET=SK-gong-test-secret-9f8e7d6c
B64=$(printf '%s:%s' "$KEY" "$SECRET" | "$PYTHON" -c 'import base64,sys; print(base64.b64encode(sys.stdin.buffer.read()).decode())')
GONG_TEST_KEY=$KEY GONG_TEST_SECRET=$SECRET
export GONG_TEST_KEY GONG_TEST_SECRET
start_fake fake_gong.py GONG_FAKE_KEY="$KEY" GONG_FAKE_SECRET="$SECRET" GONG_FAKE_LOG="$TMP/gong.log"
BASE="http://127.0.0.1:$FAKE_PORT"
Q='{"from":"2026-08-01","to":"2026-11-01"}'
ALL="02 03 04 05 06 07 08 09 10 11"

# conf NAME BASE_URL [EXTRA-SOURCE-OPTIONS] [MAX-ATTEMPTS]
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
retry = { interval = 0.01; backoff_rate = 2.0; max_attempts = ${4:-3}; };
http = { timeout = 1.0; };
sources = { gong = { plugin = "gong"; access_key = "env:GONG_TEST_KEY"; access_key_secret = "env:GONG_TEST_SECRET";
                     base_url = "$2"; $3 }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "gong"; query = "$(echo "$Q" | sed 's/"/\\"/g')"; row_limit = 5; }; }; }; };
C
}
# q NAME [QUERY]: `revops query` on NAME.conf (plain.conf if there is none)
# -> NAME.json, NAME.err; exit code in $rc
q() {
    cf="$TMP/$1.conf"
    [ -f "$cf" ] || cf="$TMP/plain.conf"
    "$REVOPS" query -c "$cf" -s gong -q "${2:-$Q}" > "$TMP/$1.json" 2> "$TMP/$1.err"
    rc=$?
}
# fault NAME FAULT TIMES PAGE [MAX-ATTEMPTS]: a config whose base_url asks the fake for FAULT
fault() {
    conf "$1" "$BASE/t/$1/$2/$3/$4" "" "$5"
}
# ids NAME: the last two digits of each call id, in order
ids() {
    jget "$TMP/$1.json" "' '.join(r[0][-2:] for r in d['results'])"
}
# seen SCENARIO: "page:status" of each request the fake saw for it, in order
seen() {
    "$PYTHON" -c '
import json, sys
out = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["scenario"] == sys.argv[2]:
        out.append("%s:%s" % (d["page"], d["status"]))
print(" ".join(out))' "$TMP/gong.log" "$1"
}
# error_has NAME TEXT: the JSON answer's error contains TEXT
error_has() {
    "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if sys.argv[2] in (d["error"] or "") else 1)' \
        "$TMP/$1.json" "$2"
    r=$?
    ok $r "$3"
    [ $r -eq 0 ] || echo "#   error was: $(jget "$TMP/$1.json" "d['error']")"
}

# ---------------------------------------------------------------- the plugin
REVOPS_PLUGIN_PATH="$TMP/plugins" "$REVOPS" plugins > "$TMP/plugins.out" 2>&1
like "$TMP/plugins.out" "tool: gong_calls" "revops plugins lists the gong_calls tool"
like "$TMP/plugins.out" "tool: gong_transcript" "and the gong_transcript tool"
like "$TMP/plugins.out" "access_key_secret" "and the options"

conf plain "$BASE"
"$REVOPS" check-config -c "$TMP/plain.conf" > "$TMP/check.out" 2>&1
is "$?" 0 "check-config accepts a gong source with env: secrets"

# ------------------------------------------------------ auth, paging, rows
q plain
is "$rc" 0 "a three-page answer: exit 0"
is "$(ids plain)" "$ALL" "every call of the range, in Gong's order, once (calls before from and at to are left out)"
is "$(seen -)" "1:200 2:200 3:200" "pages 1, 2 and 3 were each asked once, in order"
is "$("$PYTHON" -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; print([x["cursor"] for x in l], l[0]["filter"] == l[2]["filter"])' "$TMP/gong.log")" \
   "[False, True, True] True" "the first request has no cursor, the next ones carry it with the same filter"
is "$(head -1 "$TMP/gong.log" | "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.readline())["filter"])')" \
   "{'fromDateTime': '2026-08-01T00:00:00Z', 'toDateTime': '2026-11-01T00:00:00Z'}" "dates become Gong's fromDateTime / toDateTime"
is "$(jget "$TMP/plain.json" "d['columns'][:8]")" \
   "['call_id', 'sf_account_id', 'sf_account_name', 'sf_opportunity_id', 'call_date', 'started_at', 'title', 'duration_seconds']" \
   "the call columns"
is "$(jget "$TMP/plain.json" "d['results'][0][:8]")" \
   "['7000000000000000002', '001A000001XYZ', 'ACME 1', '006B00000001OPP', '2026-08-03', '2026-08-03 15:30:00', 'Call 2 with ACME 1', 660]" \
   "a call: its Salesforce account and opportunity, a -07:00 start converted to UTC, its duration"
is "$(jget "$TMP/plain.json" "[(r[0][-2:], r[1], r[3]) for r in d['results'] if r[1] is None]")" \
   "[('03', None, None), ('06', None, None), ('08', None, '006B00000077OPP')]" \
   "no Salesforce Account in the context (none, HubSpot's, an opportunity only): sf_account_id is null"
is "$(jget "$TMP/plain.json" "set(r[11] for r in d['results'])")" "{None}" "no brief unless asked for"

q brief '{"from":"2026-08-01","to":"2026-11-01","account_id":"001A000001XYZ","brief":true}'
is "$(ids brief)" "02 05 11" "account_id keeps only that account's calls"
is "$(jget "$TMP/brief.json" "d['results'][0][11]")" 'Brief of call 2: pricing and "renewal" discussed.' "brief: true asks Gong for content.brief"

conf ws "$BASE" 'workspace_id = "999";'
q ws
is "$(ids ws)" "07" "the workspace_id option filters on Gong's workspace"

conf dates "$BASE" 'from = "2026-10-01"; to = "2026-10-15";'
q dates '{}'
is "$(ids dates)" "09 10" "without dates in the query, the options from / to apply"
REVOPS_NOW=2026-10-10T12:00:00 "$REVOPS" query -c "$TMP/plain.conf" -s gong -q '{"from":"2026-10-01"}' > "$TMP/pin.json" 2> "$TMP/pin.err"
is "$(ids pin) $(tail -1 "$TMP/gong.log" | "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read())["filter"]["toDateTime"])')" \
   "09 2026-10-10T12:00:00Z" "without any 'to', toDateTime is pinned to now, so a retried fetch sees the same calls"

: > "$TMP/gong.log"
"$REVOPS" query -c "$TMP/plain.conf" -p p -i rows > "$TMP/limit.json" 2> "$TMP/limit.err"
is "$?:$(ids limit)" "0:02 03 04 05 06" "the input's row_limit (5) is honoured"
is "$(seen -)" "1:200 2:200" "and paging stops there: page 3 is never asked for"

# ------------------------------------------------------------------- auth
: > "$TMP/gong.log"
GONG_TEST_SECRET=not-the-secret "$REVOPS" query -c "$TMP/plain.conf" -s gong -q "$Q" > "$TMP/auth.json" 2> "$TMP/auth.err"
is "$?" 1 "a wrong secret: exit 1"
error_has auth "Gong refused the access key (HTTP 401: Access denied (requestId" "it says Gong refused the key, with Gong's own text"
error_has auth "query '{\"from\":\"2026-08-01\",\"to\":\"2026-11-01\"}'" "and names the query"
is "$(seen -)" "0:401" "a 401 is final: asked once, not retried"

# ------------------------------------------------------------------ faults
fault f429 429 1 2
start=$(date +%s)
q f429
took=$(( $(date +%s) - start ))
is "$rc:$(ids f429)" "0:$ALL" "429 on page 2: retried, every call once"
is "$(seen f429)" "1:200 2:fault:429 2:200 3:200" "page 2 asked again after the 429, nothing else repeated"
like "$TMP/f429.err" "HTTP 429; retrying in 1.00s (Retry-After)" "Gong's Retry-After was honoured"
test "$took" -ge 1; ok $? "the retry waited the Retry-After second (${took}s)"

fault f500 500 1 2
q f500
is "$rc:$(ids f500):$(seen f500)" "0:$ALL:1:200 2:fault:500 2:200 3:200" "500 on page 2: retried, every call once"
fault f503 503 1 1
q f503
is "$rc:$(ids f503):$(seen f503)" "0:$ALL:1:fault:503 1:200 2:200 3:200" "503 on page 1: retried, every call once"

fault ftime timeout 1 2
q ftime
is "$rc:$(ids ftime):$(seen ftime)" "0:$ALL:1:200 2:fault:timeout 2:200 3:200" "a timeout on page 2: retried, every call once"
like "$TMP/ftime.err" "Timeout was reached; retrying" "the timeout is logged as the reason"

fault fcut truncate 1 2
q fcut
is "$rc:$(ids fcut)" "0:$ALL" "a body cut after two calls of page 2: every call once, none twice"
is "$(seen fcut)" "1:200 2:fault:truncate 1:200 2:200 3:200" "the fetch was retried from page 1, skipping the rows already taken"
like "$TMP/fcut.err" "the answer ended early (truncated JSON)" "the truncation is named"

fault fcut0 truncate0 1 1
q fcut0
is "$rc:$(ids fcut0):$(seen fcut0)" "0:$ALL:1:fault:truncate0 1:200 2:200 3:200" "a body cut before the first call: the request is retried"

fault fbad malformed 1 2
q fbad
is "$rc:$(seen fbad)" "1:1:200 2:fault:malformed" "malformed JSON: exit 1, not retried"
error_has fbad "(page 2): the answer (HTTP 200) is not valid JSON (invalid JSON at byte " "the error names the page, says the JSON is invalid and where"

fault ftype wrongtype 1 2
q ftype
is "$rc:$(seen ftype)" "1:1:200 2:fault:wrongtype" "a call id that is a number: exit 1, not retried"
error_has ftype "(page 2): call 4: metaData.id is an integer, not a string" "the error names the call and the field"

fault fshape wrongshape 1 1
q fshape
is "$rc" 1 "'calls' that is not an array: exit 1"
error_has fshape "call 1 is a string, not an object" "the error says what was wrong"

fault ferr error 1 1
q ferr
is "$rc:$(seen ferr)" "1:1:fault:error" "Gong's 400 error body: exit 1, not retried"
error_has ferr "Gong POST /v2/calls/extensive for query '{\"from\":\"2026-08-01\",\"to\":\"2026-11-01\"}' (page 1): HTTP 400: fromDateTime: the date range may not exceed 2 years (requestId req-" \
    "the error names the request, the query and Gong's own error text"

fault fnone nocalls 1 1
q fnone
is "$rc:$(jget "$TMP/fnone.json" "d['success'], d['results']")" "0:(True, [])" "404 'No calls found corresponding to the provided filters' is an empty result"

fault fsame samecursor 1 2
q fsame
is "$rc" 1 "a cursor that does not advance: exit 1 instead of looping"
error_has fsame "Gong returned the same cursor twice" "and says so"

fault f429x 429 9 2 2
q f429x
is "$rc" 1 "429 that never stops: exit 1 after the retries"
error_has f429x "(page 2): HTTP 429 after 2 attempts (transient; retries exhausted): API request limit exceeded" \
    "the error says it was transient, retried, and Gong's text"
is "$(seen f429x)" "1:200 2:fault:429 2:fault:429 1:200 2:fault:429 2:fault:429" "2 HTTP attempts within each of 2 fetch attempts"

fault f500x 500 9 1 2
q f500x
is "$rc" 1 "500 that never stops: exit 1"
error_has f500x "HTTP 500 after 2 attempts (transient; retries exhausted): Internal error, please retry" "with the reason"

fault ftimex timeout 9 1 2
q ftimex
is "$rc" 1 "a server that never answers in time: exit 1"
error_has ftimex "no complete answer from Gong after 2 attempts (Timeout was reached" "the error says there was no answer, and the transport's reason"

# ------------------------------------------------------------------- tools
# The CLI has no tool command yet: tests/source_tool runs a tool through the
# real host services (skipped where it is not built).
: "${SOURCE_TOOL:=$top_builddir/tests/source_tool}"
tool() {  # tool NAME TOOL INPUT
    "$SOURCE_TOOL" -c "$TMP/plain.conf" -s gong -t "$2" -i "$3" > "$TMP/$1.json" 2> "$TMP/$1.err"
    rc=$?
}
if [ -x "$SOURCE_TOOL" ]; then
    tool tcalls gong_calls '{"from":"2026-08-01","to":"2026-11-01","account_id":"001A000000XYZ"}'
    is "$rc:$(ids tcalls)" "0:04 07 10" "tool gong_calls: one account's calls in the range"
    : > "$TMP/gong.log"
    tool ttr gong_transcript '{"call_id":"7000000000000000003"}'
    is "$rc:$(jget "$TMP/ttr.json" "d['columns'], len(d['results']), d['results'][0]")" \
       "0:(['call_id', 'speaker_id', 'topic', 'start_ms', 'end_ms', 'text'], 3, ['7000000000000000003', '6432345678555530067', 'Pricing', 460230, 462343, \"Let's talk about the renewal.\"])" \
       "tool gong_transcript: one row per sentence, times in milliseconds"
    is "$(head -1 "$TMP/gong.log" | "$PYTHON" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["endpoint"], d["filter"])')" \
       "/v2/calls/transcript {'callIds': ['7000000000000000003']}" "it asks /v2/calls/transcript for that call id"
    tool tbad gong_transcript '{"call":"7000000000000000003"}'
    is "$rc" 1 "a tool input with an unknown member fails"
    error_has tbad 'unknown member "call" (allowed: call_id, limit)' "and says which members are allowed"
    tool tnone gong_summary '{}'
    error_has tnone "unknown tool 'gong_summary' (this source offers gong_calls and gong_transcript)" "an unknown tool is named"
else
    for t in 1 2 3 4 5 6; do tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $SOURCE_TOOL is not built"; done
fi

# ----------------------------------------------------------- query errors
q bad1 'from 2026-08-01'
is "$rc" 1 "a query that is not JSON: exit 1"
error_has bad1 "the query must be a JSON object" "and says what the query should be"
q bad2 '{"form":"2026-08-01"}'
error_has bad2 'unknown member "form" (allowed: from, to, workspace_id, account_id, call_ids, brief)' "a misspelt member is named with the allowed ones"
q bad3 '{"from":"08/01/2026"}'
error_has bad3 '"from" must be a date "YYYY-MM-DD"' "a date in another format is refused"
q bad4 '{"from":"2026-11-01","to":"2026-08-01"}'
error_has bad4 '"from" (2026-11-01) is after "to" (2026-08-01)' "from after to is refused"

# ------------------------------------------------------------------ secrets
REVOPS_LOG_LEVEL=debug "$REVOPS" query -c "$TMP/f500x.conf" -s gong -q "$Q" > "$TMP/debug.json" 2> "$TMP/debug.err"
cat "$TMP"/*.json "$TMP"/*.err "$TMP/plugins.out" "$TMP/check.out" > "$TMP/all-output"
like "$TMP/debug.err" "Internal error" "(the debug run did log its HTTP exchanges)"
unlike "$TMP/all-output" "$SECRET" "the access key secret appears in no output"
unlike "$TMP/all-output" "$KEY" "nor the access key"
unlike "$TMP/all-output" "$B64" "nor the Basic credentials"

done_testing
