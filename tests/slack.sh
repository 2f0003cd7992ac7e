#!/bin/sh
# The slack source through the real binary, against tests/fake_slack.py (the Slack Web
# API as its public docs describe it): the bot token as a Bearer header, cursor paging
# of conversations.history and conversations.replies (every page, in order, once),
# the query's filters, the row limit, Slack's ok:false errors and tier rate limits,
# and every fault the fake injects, each with what revops did.  The token may appear
# in no output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with slack.so tp_sum.so

TOKEN=xoxb-1111-2222-slack-test-token-7e7e
SLACK_TEST_TOKEN=$TOKEN
export SLACK_TEST_TOKEN
start_fake fake_slack.py SLACK_FAKE_TOKEN="$TOKEN" SLACK_FAKE_LOG="$TMP/slack.log"
BASE="http://127.0.0.1:$FAKE_PORT"
Q='{"channel":"C0REVOPS01","replies":true}'
# The channel, newest first (m8 .. m0), with the replies of each thread after the
# history page that holds its parent (page_limit 4: m8 m7 m6 m5 | m4 m3 m2 m1 | m0).
ALL="m8 m7 m6 m5 r6.0 r6.1 r6.2 m4 m3 m2 m1 r2.0 r2.1 m0"

# conf NAME BASE_URL [EXTRA-SOURCE-OPTIONS] [MAX-ATTEMPTS]
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
retry = { interval = 0.01; backoff_rate = 2.0; max_attempts = ${4:-3}; };
http = { timeout = 1.0; };
sources = { slack = { plugin = "slack"; token = "env:SLACK_TEST_TOKEN"; base_url = "$2"; ${3:-page_limit = 4;} }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "slack"; query = "$(echo "$Q" | sed 's/"/\\"/g')"; row_limit = 6; }; }; }; };
C
}
# q NAME [QUERY]: `revops query` on NAME.conf (plain.conf if there is none)
# -> NAME.json, NAME.err; exit code in $rc
q() {
    cf="$TMP/$1.conf"
    [ -f "$cf" ] || cf="$TMP/plain.conf"
    "$REVOPS" query -c "$cf" -s slack -q "${2:-$Q}" > "$TMP/$1.json" 2> "$TMP/$1.err"
    rc=$?
}
# fault NAME FAULT TIMES WHERE [MAX-ATTEMPTS]: a config whose base_url asks the fake for FAULT
fault() {
    conf "$1" "$BASE/t/$1/$2/$3/$4/api" "" "$5"
}
# msgs NAME: each row as m<i> (message i) or r<i>.<k> (reply k in the thread of message i)
msgs() {
    jget "$TMP/$1.json" "' '.join(('r%d.%d' % ((int(r[1][:10]) - 1790812800) // 18000, int(r[1][-3:]) - 200)) if r[1][-3:] != '100' else 'm%d' % ((int(r[1][:10]) - 1790812800) // 18000) for r in d['results'])"
}
# seen SCENARIO: "h<page>:<status>" / "r<page>:<status>" of each request the fake saw for it
seen() {
    "$PYTHON" -c '
import json, sys
out = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["scenario"] == sys.argv[2]:
        out.append("%s%s:%s" % ("h" if d["method"] == "conversations.history" else "r", d["page"], d["status"]))
print(" ".join(out))' "$TMP/slack.log" "$1"
}
# error_has NAME TEXT DESCRIPTION: the JSON answer's error contains TEXT
error_has() {
    "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if sys.argv[2] in (d["error"] or "") else 1)' \
        "$TMP/$1.json" "$2"
    r=$?
    ok $r "$3"
    [ $r -eq 0 ] || echo "#   error was: $(jget "$TMP/$1.json" "d['error']")"
}

# ---------------------------------------------------------------- the plugin
REVOPS_PLUGIN_PATH="$TMP/plugins" "$REVOPS" plugins > "$TMP/plugins.out" 2>&1
like "$TMP/plugins.out" "tool: slack_history" "revops plugins lists the slack_history tool"
like "$TMP/plugins.out" "page_limit" "and the options"

conf plain "$BASE/api"
"$REVOPS" check-config -c "$TMP/plain.conf" > "$TMP/check.out" 2>&1
is "$?" 0 "check-config accepts a slack source with an env: token"

# ------------------------------------------------------ auth, paging, rows
q plain
is "$rc" 0 "history with replies: exit 0"
is "$(msgs plain)" "$ALL" "every message once, newest first, each thread's replies after its page"
is "$(seen -)" "h1:200 r1:200 h2:200 r1:200 h3:200" "history pages 1, 2, 3 once each, in order; one replies call per thread"
is "$(jget "$TMP/plain.json" "d['columns']")" "['channel', 'ts', 'thread_ts', 'user', 'text', 'reply_count', 'message_date']" "the message columns"
is "$(jget "$TMP/plain.json" "d['results'][2]")" \
   "['C0REVOPS01', '1790920800.000100', '1790920800.000100', 'U00000000', 'message 6 about ACME \"renewal\"', 3, '2026-10-02']" \
   "a thread's parent: its thread_ts, reply_count and the UTC date of its ts"
is "$(jget "$TMP/plain.json" "d['results'][4][1:4], d['results'][4][5]")" \
   "(['1790920800.000200', '1790920800.000100', 'U0000009'], 0)" "a reply: its own ts, its parent's thread_ts"
is "$(jget "$TMP/plain.json" "d['results'][7][3]")" "B0BOT0001" "a bot message without a user: its bot_id"

conf small "$BASE/api" "page_limit = 2;"
: > "$TMP/slack.log"
q small
is "$(msgs small)" "$ALL" "page_limit 2: the same rows"
is "$(seen - | tr ' ' '\n' | grep -c '^h')" 5 "in five history pages"
is "$(seen - | tr ' ' '\n' | grep -c '^r')" 3 "and three replies pages (a thread of 3 replies takes two; the parent Slack repeats is not a row twice)"

: > "$TMP/slack.log"
q noreplies '{"channel":"C0REVOPS01"}'
is "$(msgs noreplies)" "m8 m7 m6 m5 m4 m3 m2 m1 m0" "without replies: the channel's messages only"
is "$(seen -)" "h1:200 h2:200 h3:200" "and no conversations.replies call"

: > "$TMP/slack.log"
q range '{"channel":"C0REVOPS01","oldest":"2026-10-01","latest":"1790870000"}'
is "$(msgs range)" "m3 m2 m1 m0" "oldest as a date and latest as a Slack timestamp"
is "$(head -1 "$TMP/slack.log" | "$PYTHON" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["oldest"], d["latest"], d["limit"])')" \
   "1790812800.000000 1790870000 4" "are sent as Slack's oldest / latest, with page_limit as limit"

: > "$TMP/slack.log"
REVOPS_NOW=2026-10-01T20:00:00 "$REVOPS" query -c "$TMP/plain.conf" -s slack -q '{"channel":"C0REVOPS01"}' > "$TMP/pin.json" 2> "$TMP/pin.err"
is "$(msgs pin) $(head -1 "$TMP/slack.log" | "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read())["latest"])')" \
   "m3 m2 m1 m0 1790884800.000000" "without a latest, it is pinned to now, so a retried fetch pages through the same messages"

: > "$TMP/slack.log"
"$REVOPS" query -c "$TMP/plain.conf" -p p -i rows > "$TMP/limit.json" 2> "$TMP/limit.err"
is "$?:$(msgs limit)" "0:m8 m7 m6 m5 r6.0 r6.1" "the input's row_limit (6) is honoured, replies included"
is "$(seen -)" "h1:200 r1:200" "and nothing more is asked for"

# ------------------------------------------------------------- auth, errors
: > "$TMP/slack.log"
SLACK_TEST_TOKEN=xoxb-not-the-token "$REVOPS" query -c "$TMP/plain.conf" -s slack -q "$Q" > "$TMP/auth.json" 2> "$TMP/auth.err"
is "$?" 1 "a wrong token: exit 1"
error_has auth "Slack refused the bot token (invalid_auth)" "it says Slack refused the token, with Slack's error code"
error_has auth "for query '{\"channel\":\"C0REVOPS01\",\"replies\":true}'" "and names the query"
is "$(seen -)" "h0:invalid_auth" "invalid_auth is final: asked once"

fault frev revoked 1 1
q frev
is "$rc" 1 "token_revoked: exit 1"
error_has frev "Slack refused the bot token (token_revoked)" "it says the token was refused"

q nochan '{"channel":"C0NOPE"}'
is "$rc" 1 "an unknown channel: exit 1"
error_has nochan "Slack conversations.history of C0NOPE for query '{\"channel\":\"C0NOPE\"}' (page 1): Slack said channel_not_found" \
    "the error names the method, the channel, the query and Slack's error code"
q notin '{"channel":"CPRIV0001"}'
error_has notin "Slack said not_in_channel: invite the app to the channel" "not_in_channel says what to do"

fault ferr error 1 1
q ferr
is "$rc:$(seen ferr)" "1:h1:fault:error" "ok:false: exit 1, not retried"
error_has ferr "Slack said invalid_arguments" "Slack's error code is named"

# ------------------------------------------------------------------ faults
fault fgone nothread 1 r1
q fgone
is "$rc:$(msgs fgone)" "0:$(echo "$ALL" | sed 's/ r6.0 r6.1 r6.2//')" "a thread deleted after history listed it: its replies are skipped"
like "$TMP/fgone.err" "Slack said thread_not_found; skipping the thread" "with a warning"

fault f429 429 1 2
start=$(date +%s)
q f429
took=$(( $(date +%s) - start ))
is "$rc:$(msgs f429)" "0:$ALL" "429 on history page 2: retried, every message once"
is "$(seen f429)" "h1:200 r1:200 h2:fault:429 h2:200 r1:200 h3:200" "page 2 asked again, nothing else repeated"
like "$TMP/f429.err" "HTTP 429; retrying in 1.00s (Retry-After)" "Slack's Retry-After was honoured"
test "$took" -ge 1; ok $? "the retry waited the Retry-After second (${took}s)"

fault frl ratelimited 1 2
q frl
is "$rc:$(msgs frl)" "0:$ALL" "ok:false ratelimited on a 200: retried, every message once"
like "$TMP/frl.err" "Slack said ratelimited (transient); retry 1 of 2" "as a transient failure"

fault f500 500 1 2
q f500
is "$rc:$(msgs f500):$(seen f500)" "0:$ALL:h1:200 r1:200 h2:fault:500 h2:200 r1:200 h3:200" "500 on page 2: retried, every message once"
fault f503 503 1 r1
q f503
is "$rc:$(msgs f503):$(seen f503)" "0:$ALL:h1:200 r1:fault:503 r1:200 h2:200 r1:200 h3:200" "503 on conversations.replies: retried, every message once"

fault ftime timeout 1 2
q ftime
is "$rc:$(msgs ftime):$(seen ftime)" "0:$ALL:h1:200 r1:200 h2:fault:timeout h2:200 r1:200 h3:200" "a timeout on page 2: retried, every message once"
like "$TMP/ftime.err" "Timeout was reached; retrying" "the timeout is logged as the reason"

fault fcut truncate 1 2
q fcut
is "$rc:$(msgs fcut)" "0:$ALL" "a body cut after two messages of page 2: every message once, none twice"
is "$(seen fcut)" "h1:200 r1:200 h2:fault:truncate h1:200 r1:200 h2:200 r1:200 h3:200" "the fetch was retried from page 1, skipping the rows already taken"
like "$TMP/fcut.err" "the answer ended early (truncated JSON)" "the truncation is named"

fault fcut0 truncate0 1 1
q fcut0
is "$rc:$(msgs fcut0):$(seen fcut0)" "0:$ALL:h1:fault:truncate0 h1:200 r1:200 h2:200 r1:200 h3:200" "a body cut before the first message: the request is retried"

fault fbad malformed 1 2
q fbad
is "$rc:$(seen fbad)" "1:h1:200 r1:200 h2:fault:malformed" "malformed JSON: exit 1, not retried"
error_has fbad "(page 2): the answer (HTTP 200) is not valid JSON (invalid JSON at byte " "the error names the page, says the JSON is invalid and where"

fault ftype wrongtype 1 2
q ftype
is "$rc" 1 "a ts that is a number: exit 1"
error_has ftype "(page 2): message 4: ts is a number, not a Slack timestamp string" "the error names the message and the field"

fault fshape wrongshape 1 1
q fshape
is "$rc" 1 "an ok that is a string: exit 1"
error_has fshape '"ok" is a string, not true or false' "the error says what was wrong"

fault fnook nook 1 1
q fnook
error_has fnook 'the answer has no "ok" member' "an answer without ok is refused"

fault fsame samecursor 1 2
q fsame
is "$rc" 1 "a next_cursor that does not advance: exit 1 instead of looping"
error_has fsame "Slack returned the same next_cursor twice" "and says so"

fault f429x 429 9 1 2
q f429x
is "$rc" 1 "429 that never stops: exit 1 after the retries"
error_has f429x "(page 1): HTTP 429 after 2 attempts (transient; retries exhausted): Slack said ratelimited" \
    "the error says it was transient, retried, and Slack's code"
is "$(seen f429x)" "h1:fault:429 h1:fault:429 h1:fault:429 h1:fault:429" "2 HTTP attempts within each of 2 fetch attempts"

fault frlx ratelimited 9 1 2
q frlx
is "$rc" 1 "ok:false ratelimited that never stops: exit 1"
error_has frlx "Slack said ratelimited (transient)" "with Slack's code"

fault ftimex timeout 9 1 2
q ftimex
is "$rc" 1 "a server that never answers in time: exit 1"
error_has ftimex "no complete answer from Slack after 2 attempts (Timeout was reached" "the error says there was no answer, and the transport's reason"

# ------------------------------------------------------------------- tools
# The CLI has no tool command yet: tests/source_tool runs a tool through the
# real host services (skipped where it is not built).
: "${SOURCE_TOOL:=$top_builddir/tests/source_tool}"
tool() {  # tool NAME TOOL INPUT
    "$SOURCE_TOOL" -c "$TMP/plain.conf" -s slack -t "$2" -i "$3" > "$TMP/$1.json" 2> "$TMP/$1.err"
    rc=$?
}
if [ -x "$SOURCE_TOOL" ]; then
    tool th slack_history '{"channel":"C0REVOPS01","limit":2}'
    is "$rc:$(msgs th)" "0:m8 m7" "tool slack_history: the newest messages, limit honoured"
    tool tr slack_history '{"channel":"C0REVOPS01","oldest":"2026-10-01","latest":"1790870000"}'
    is "$rc:$(msgs tr)" "0:m3 m2 m1 m0" "tool slack_history: oldest / latest"
    tool tbad slack_history '{"oldest":"2026-10-01"}'
    is "$rc" 1 "a tool input without a channel fails"
    error_has tbad '"channel" must be a conversation id string' "and says so"
    tool tnone slack_post '{}'
    error_has tnone "unknown tool 'slack_post' (this source offers slack_history)" "an unknown tool is named"
else
    for t in 1 2 3 4 5; do tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $SOURCE_TOOL is not built"; done
fi

# ----------------------------------------------------------- query errors
q bad1 'C0REVOPS01'
is "$rc" 1 "a query that is not JSON: exit 1"
error_has bad1 "the query must be a JSON object" "and says what the query should be"
q bad2 '{"oldest":"2026-10-01"}'
error_has bad2 '"channel" must be a conversation id string' "a query without a channel is refused"
q bad3 '{"channel":"C0REVOPS01","olderst":"1"}'
error_has bad3 'unknown member "olderst" (allowed: channel, oldest, latest, replies)' "a misspelt member is named with the allowed ones"
q bad4 '{"channel":"C0REVOPS01","oldest":"yesterday"}'
error_has bad4 '"oldest" must be a Slack timestamp' "an oldest Slack cannot read is refused"

# ------------------------------------------------------------------ secrets
REVOPS_LOG_LEVEL=debug "$REVOPS" query -c "$TMP/plain.conf" -s slack -q "$Q" > "$TMP/debug.json" 2> "$TMP/debug.err"
cat "$TMP"/*.json "$TMP"/*.err "$TMP/plugins.out" "$TMP/check.out" > "$TMP/all-output"
like "$TMP/debug.err" "conversations.replies" "(the debug run did log its HTTP exchanges)"
unlike "$TMP/all-output" "$TOKEN" "the bot token appears in no output"
unlike "$TMP/all-output" "xoxb-not-the-token" "nor a refused one"

done_testing
