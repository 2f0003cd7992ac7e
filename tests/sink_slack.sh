#!/bin/sh
# The slack_alert sink through the real binary, against tests/fake_slack.py (chat.postMessage
# and incoming webhooks as Slack's docs describe them; the fake checks the bot token and
# Block Kit's limits and logs every post): the per-finding Block Kit message, the digest
# (50 blocks at most, more findings -> more messages), the sent:<delivery id> record that
# keeps a second run from posting again, re-alerts as thread replies (the outbox's new
# delivery id simulated by dropping the sent: records), Slack's ok:false codes (final or
# transient), 429 with Retry-After, the webhook mode and its plain-text errors, hostile
# account names escaped and valid.  Neither the token nor the webhook URL may appear in
# any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so slack_alert.so file.so sqlite.so at_risk_accounts.so

TOKEN=xoxb-4242-7777-sink-secret-token-do-not-print
WRONG=xoxb-0000-0000-not-the-right-token-either
HOOKPATH=/services/T0FAKE/B0FAKE/h00ksecretp4thdon0tprint
export SLACK_TOKEN="$TOKEN" SLACK_WRONG="$WRONG"
start_fake fake_slack.py SLACK_FAKE_TOKEN="$TOKEN" SLACK_FAKE_HOOK="$HOOKPATH" SLACK_FAKE_LOG="$TMP/slack.log"
BASE="http://127.0.0.1:$FAKE_PORT"
export SLACK_HOOK="$BASE$HOOKPATH"
: > "$TMP/slack.log"

# conf NAME ACTION-OPTIONS [FINDINGS] [TP_SUM-OPTIONS] [STATE]: tp_rows -> tp_sum, routed
# to slack_alert ("slack") and to a file action (the host's finding JSON in NAME.jsonl).
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/${5:-state_$1}";
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = { slack = { plugin = "slack_alert"; outbox = false; $2 };
            copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; };
pipelines = { p = { analysis = "A5"; options = { findings = ${3:-4}; $4 };
                    inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( { action = "slack"; min_priority = "low"; }, { action = "copy"; min_priority = "low"; } ); }; };
C
}
api() {  # api [PREFIX] [CHANNEL]: the options of an api-mode instance
    echo "token = \"env:SLACK_TOKEN\"; channel = \"${2:-C0REVOPS01}\"; base_url = \"$BASE${1:-}/api\";"
}
run() {  # run NAME -> $TMP/NAME.out / .err; status in $rc; the log lines it made from $mark on
    rm -f "$TMP/$1.jsonl"
    mark=$(( $(wc -l < "$TMP/slack.log") + 1 ))
    "$REVOPS" run -c "$TMP/$1.conf" --session-id "sl_$1" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
    echo "$mark" > "$TMP/$1.mark"
}
# py NAME SCRIPT [ARGS]: run a check on the log lines of run NAME; output in $TMP/NAME.py
LIB='
import json, sqlite3, sys
T = sys.argv[1]
def posts(name):
    start = int(open(T + "/" + name + ".mark").read())
    return [json.loads(l) for l in open(T + "/slack.log", encoding="utf-8")][start - 1:]
def findings(name):
    return {json.loads(l)["fingerprint"]: json.loads(l) for l in open(T + "/" + name + ".jsonl", encoding="utf-8")}
def state(dirname):
    con = sqlite3.connect(T + "/" + dirname + "/state.db")
    return dict(con.execute("SELECT key, value FROM sink_state WHERE action = ?", ("slack",)).fetchall())
def texts(body):
    out = [body.get("text", "")]
    for b in body.get("blocks", []):
        if "text" in b: out.append(b["text"]["text"])
        for e in b.get("elements", []): out.append(e["text"])
    return out
def fp_of(body):
    ctx = [e["text"] for b in body["blocks"] if b["type"] == "context" for e in b["elements"]]
    return [c.split("`")[1] for c in ctx]
'
py() {
    n=$1 s=$2; shift 2
    "$PYTHON" -c "$LIB$s" "$TMP" "$@" > "$TMP/$n.py" 2>&1
    cat "$TMP/$n.py"
}
# no_secrets NAME DESCRIPTION: neither token nor the hook's path in revops' output or run records
no_secrets() {
    cat "$TMP/$1.out" "$TMP/$1.err" "$TMP"/state_*/runs.jsonl 2>/dev/null > "$TMP/$1.all"
    leaked=""
    for s in "$TOKEN" "$WRONG" "$HOOKPATH" h00ksecretp4th; do grep -qF -- "$s" "$TMP/$1.all" && leaked="$leaked $s"; done
    is "$leaked" "" "$2"
}

# ------------------------------------------------------------ the plugin
REVOPS_PLUGIN_PATH="$TMP/plugins" "$REVOPS" plugins > "$TMP/plugins.out" 2>&1
like "$TMP/plugins.out" "slack_alert (action)" "revops plugins lists the slack_alert action"
like "$TMP/plugins.out" "token                  string, secret" "its token is a secret option"
like "$TMP/plugins.out" "webhook_url            string, secret" "and so is the webhook URL"

# ------------------------------------------- one message per finding (api)
conf one "$(api)"
run one; is "$rc" 0 "api mode: the run delivers (exit 0)"
py one '
fs = findings("one"); ps = posts("one"); out = set()
for p in ps:
    b = p["body"]; fp = fp_of(b)[0]; f = [f for k, f in fs.items() if k.startswith(fp)][0]
    out.add("%s %s %s %s|%s|%s|%s|%s" % (p["method"], p["status"], p["auth"], b["channel"],
        [x["type"] for x in b["blocks"]], b["blocks"][0]["text"]["text"] == "%s: %s" % (f["priority"], f["title"]),
        b["text"] == "[%s] %s (%s)" % (f["priority"], f["title"], f["account_id"]),
        (b["unfurl_links"], b["unfurl_media"], "thread_ts" in b, b["blocks"][1]["text"]["text"].startswith("*Account:* " + f["account_id"]),
         b["blocks"][2]["text"]["text"].startswith("*Signals*\n- rows: 5 (threshold 0): rows seen\n- id_sum:"))))
print(len(ps), len(set(fp_of(p["body"])[0] for p in ps)), " / ".join(sorted(out)))' > /dev/null
is "$(cat "$TMP/one.py")" "4 4 chat.postMessage ok True C0REVOPS01|['header', 'section', 'section', 'context']|True|True|(False, False, False, True, True)" \
    "4 posts, one per finding: channel, text fallback, header (priority: title), body, signals, context with the fingerprint"
py one_state '
s = state("state_one"); fs = findings("one"); ps = posts("one")
import hashlib
sent = {k[5:]: v for k, v in s.items() if k.startswith("sent:")}
ts = {k[3:]: v for k, v in s.items() if k.startswith("ts:")}
want_ids = {hashlib.sha256((fp + "\nslack").encode()).hexdigest()[:32] for fp in fs}
posted = {"C0REVOPS01:" + p["ts"] for p in ps}
print(set(sent) == want_ids, set(sent.values()) == posted, set(ts) == set(fs), set(ts.values()) == posted)' > /dev/null
is "$(cat "$TMP/one_state.py")" "True True True True" \
    "state: sent:<delivery id> and ts:<fingerprint> = C0REVOPS01:<ts> of each message Slack confirmed"
first_ts=$(py first 'print(" ".join(sorted("%s=%s" % (fp_of(p["body"])[0], p["ts"]) for p in posts("one"))))' | tr -d '\n')
run one; is "$rc" 0 "the same findings again (the core calls deliver every run until the outbox lands): exit 0"
is "$(py one2 'print(len(posts("one")))')" 0 "nothing is posted again: the sent: records skip them"
is "$(grep -c 'already sent as delivery' "$TMP/one.err")" 4 "the log says so for each finding"
no_secrets one "the token is in no output"

# ----------------------------------------------- re-alerts: thread replies
# The outbox (being built) re-alerts with a new delivery id when the priority rises; until
# it lands, dropping the sent: records stands in for that new id.
drop_sent() {
    "$PYTHON" -c 'import sqlite3, sys
con = sqlite3.connect(sys.argv[1]); con.execute("DELETE FROM sink_state WHERE key LIKE ?", ("sent:%",)); con.commit()' "$TMP/$1/state.db"
}
drop_sent state_one
conf one "$(api)" 4 "priority_offset = 1;" state_one
run one; is "$rc" 0 "second run, priorities one step higher: exit 0"
py thread '
first = dict(x.split("=") for x in sys.argv[2].split())
out = []
for p in sorted(posts("one"), key=lambda p: fp_of(p["body"])[0]):
    b = p["body"]
    out.append("%s:%s:%s:%s:%s" % (b.get("thread_ts") == first[fp_of(b)[0]], p["thread_known"], "reply_broadcast" in b,
        [x["type"] for x in b["blocks"]] == ["section", "section", "context"], b["text"].startswith("Update: [")))
print(len(out), sorted(set(out)))' "$first_ts" > /dev/null
is "$(cat "$TMP/thread.py")" "4 ['True:True:False:True:True']" \
    "each is a reply (thread_ts = the first message's ts) with what changed, the body and the context"
py thread2 '
for p in posts("one"):
    print(p["body"]["blocks"][0]["text"]["text"])' > /dev/null
sort "$TMP/thread2.py" > "$TMP/thread2.sorted"
is "$(cat "$TMP/thread2.sorted")" ":arrows_counterclockwise: *Update*: priority now *critical* (unchanged), score now *1* (was 1)
:arrows_counterclockwise: *Update*: priority now *critical* (was high), score now *0.75* (was 0.75)
:arrows_counterclockwise: *Update*: priority now *high* (was medium), score now *0.5* (was 0.5)
:arrows_counterclockwise: *Update*: priority now *medium* (was low), score now *0.25* (was 0.25)" \
    "the reply says the priority then and now, and the score"
drop_sent state_one
conf one "$(api) reply_broadcast = true;" 4 "priority_offset = 1;" state_one
run one; is "$rc" 0 "reply_broadcast = true: exit 0"
is "$(py bc 'print(sorted(set((p["body"].get("reply_broadcast"), "thread_ts" in p["body"]) for p in posts("one"))))')" \
    "[(True, True)]" "the replies carry reply_broadcast: true"
# A thread kept for another channel is not replied in: a new first message.
drop_sent state_one
conf one "$(api "" C0OTHER01)" 1 "" state_one
run one; is "$rc" 0 "another channel: exit 0"
is "$(py other 'print([(p["body"]["channel"], "thread_ts" in p["body"], p["body"]["blocks"][0]["type"]) for p in posts("one")])')" \
    "[('C0OTHER01', False, 'header')]" "a new message in that channel, not a reply to a thread elsewhere"

# ---------------------------------------------------------------- digest
conf dig "$(api) digest = true;" 30
run dig; is "$rc" 0 "digest of 30 findings: exit 0"
py dig '
ps = posts("dig"); fs = findings("dig")
got = [fp for p in ps for fp in fp_of(p["body"])]
print(len(ps), [len(p["body"]["blocks"]) for p in ps], [p["status"] for p in ps], [p["body"]["blocks"][0]["text"]["text"] for p in ps],
      sorted(got) == sorted(k[:12] for k in fs), [p["body"]["blocks"][1]["type"] for p in ps])' > /dev/null
is "$(cat "$TMP/dig.py")" "2 [49, 13] ['ok', 'ok'] ['revops: 24 findings from p (part 1 of 2)', 'revops: 6 findings from p (part 2 of 2)'] True ['section', 'section']" \
    "two messages: 1 header + 24 x (section, context) = 49 blocks, then the other 6; every finding once"
is "$(py dig1 'b = posts("dig")[0]["body"]["blocks"][1]["text"]["text"]; print(b.split(chr(10))[0])')" "*critical: finding 27*" \
    "each finding: its title in bold, then the body (in the core's order: highest priority first)"
run dig; is "$rc" 0 "the digest's findings again: exit 0"
is "$(py dig2 'print(len(posts("dig")))')" 0 "nothing posted again"

# ------------------------------------------------------ Slack's error codes
# channel_not_found / not_in_channel / is_archived from the fake's own channel rules
for ch in C9NOPE:channel_not_found CPRIV01:not_in_channel CARCH01:is_archived; do
    c=${ch%%:*} code=${ch#*:}
    conf "ch_$code" "$(api "" "$c")" 2
    run "ch_$code"; is "$rc" 3 "$code: the deliveries fail (exit 3)"
    is "$(grep -c 'not delivered' "$TMP/ch_$code.err")" 2 "$code: both findings reported"
    like "$TMP/ch_$code.err" "Slack said $code" "$code: the reason names Slack's code"
    is "$(py "chn_$code" 'print(len(posts(sys.argv[2])))' "ch_$code")" 2 "$code: final, not retried (2 posts for 2 findings)"
done
like "$TMP/ch_not_in_channel.err" "invite the app to CPRIV01" "not_in_channel says what to do"

conf badtok 'token = "env:SLACK_WRONG"; channel = "C0REVOPS01"; base_url = "'"$BASE"'/api";' 1
run badtok; is "$rc" 3 "a wrong token: exit 3"
like "$TMP/badtok.err" "Slack refused the token: invalid_auth" "invalid_auth, said without the token"
no_secrets badtok "neither token is in any output"

# final codes injected for the first post; the other finding is delivered
for code in msg_too_long invalid_blocks no_text account_inactive token_revoked not_authed; do
    conf "f_$code" "$(api "/t/f_$code/$code/1/p")" 2
    run "f_$code"; is "$rc" 3 "$code: exit 3"
    is "$(py "fp_$code" 'print(" ".join(p["status"] for p in posts(sys.argv[2])))' "f_$code")" "fault:$code ok" \
        "$code: final (not sent again); the next finding is delivered"
    like "$TMP/f_$code.err" "$code" "$code: named in the reason"
done
# transient codes: RETRY, the core sends the finding again
for code in internal_error ratelimited service_unavailable request_timeout fatal_error; do
    conf "t_$code" "$(api "/t/t_$code/$code/1/p")" 1
    run "t_$code"; is "$rc" 0 "$code: transient, retried by the core: exit 0"
    is "$(py "tp_$code" 'print(" ".join(p["status"] for p in posts(sys.argv[2])))' "t_$code")" "fault:$code ok" \
        "$code: then delivered"
done
like "$TMP/t_internal_error.err" "Slack said internal_error (transient)" "the core's retry log says why"

# ------------------------------------------------------------- 429 and 5xx
conf r429 "$(api /t/r429/429/1/p)" 1
run r429; is "$rc" 0 "429 once: the host waits Retry-After and retries (exit 0)"
is "$(py r429 'print(" ".join(p["status"] for p in posts("r429")))')" "fault:429 ok" "one 429, then posted"
conf r503 "$(api /t/r503/503/2/p)" 1
run r503; is "$rc" 0 "503 twice: retried (exit 0)"
is "$(py r503 'print(" ".join(p["status"] for p in posts("r503")))')" "fault:503 fault:503 ok" "then posted"
# Throttled for good: RETRY; the rest of the batch waits for a later attempt.
conf r429x "$(api /t/r429x/429/99/p)" 2
sed -i 's/max_attempts = 3/max_attempts = 2/' "$TMP/r429x.conf"
run r429x; is "$rc" 3 "429 throughout: the deliveries fail after the retries (exit 3)"
like "$TMP/r429x.err" "chat.postMessage: HTTP 429 after" "the reason: HTTP 429 after the host's attempts"
like "$TMP/r429x.err" "not sent after an earlier failure" "the second finding is not sent into a throttled API"
is "$(py r429x 'print(len(set(fp_of(p["body"])[0] for p in posts("r429x"))))')" 1 "only the first finding was tried"

# ------------------------------------------------------------ webhook mode
conf hook 'mode = "webhook"; webhook_url = "env:SLACK_HOOK";' 2
run hook; is "$rc" 0 "webhook mode: exit 0"
py hook '
ps = posts("hook")
print(len(ps), sorted(set((p["method"], p["status"], p["path_ok"], "channel" in p["body"], tuple(b["type"] for b in p["body"]["blocks"])) for p in ps)))' > /dev/null
is "$(cat "$TMP/hook.py")" "2 [('webhook', 'ok', True, False, ('header', 'section', 'section', 'context'))]" \
    "two posts to the hook: the same blocks, no channel; the hook answered ok"
run hook; is "$(py hook2 'print(len(posts("hook")))')" 0 "a second run posts nothing (sent: records)"
no_secrets hook "the webhook URL is in no output"
for f in action_prohibited:403 channel_not_found:404 channel_is_archived:410 invalid_payload:400; do
    code=${f%%:*} st=${f#*:}
    export SLACK_HOOK_F="$BASE/t/h_$code/$code/1/p$HOOKPATH"
    conf "h_$code" 'mode = "webhook"; webhook_url = "env:SLACK_HOOK_F";' 1
    run "h_$code"; is "$rc" 3 "webhook $code: final (exit 3)"
    like "$TMP/h_$code.err" "incoming webhook: HTTP $st: Slack said $code" "webhook $code: HTTP $st and Slack's word"
    no_secrets "h_$code" "webhook $code: the URL is in no output"
done
export SLACK_HOOK_BAD="$BASE/services/T0FAKE/B0FAKE/h00ksecretp4thWRONG"
conf h_bad 'mode = "webhook"; webhook_url = "env:SLACK_HOOK_BAD";' 1
run h_bad; is "$rc" 3 "a hook that does not exist: exit 3"
like "$TMP/h_bad.err" "HTTP 404: Slack said no_service" "404 no_service"
no_secrets h_bad "its URL is in no output"
export SLACK_HOOK_429="$BASE/t/h_429/429/1/p$HOOKPATH"
conf h_429 'mode = "webhook"; webhook_url = "env:SLACK_HOOK_429";' 1
run h_429; is "$rc" 0 "webhook 429 once: retried after Retry-After (exit 0)"
is "$(py h429 'print(" ".join(p["status"] for p in posts("h_429")))')" "fault:429 ok" "then posted"
cp "$TMP/h_429.err" "$TMP/h_429.raw"
like "$TMP/h_429.raw" "retrying in" "the host logged its retry"
grep -v 'retrying in' "$TMP/h_429.raw" > "$TMP/h_429.err"
no_secrets h_429 "no line but the host's retry notice shows the URL"
# The host's own retry log line: with REVOPS_HTTP_SECRET_URL (1.5) it shows the origin
# only, since for a Slack incoming webhook the path is the credential.
grep -q "h00ksecretp4th" "$TMP/h_429.raw" && leak=1 || leak=0
is "$leak" 0 "the host's retry log does not show the webhook path"
like "$TMP/h_429.raw" "http://127.0.0.1:" "it names the origin"

conf mixed 'mode = "webhook"; webhook_url = "env:SLACK_HOOK"; token = "env:SLACK_TOKEN";' 1
run mixed; like "$TMP/mixed.err" "the options token and channel are not used" "webhook mode warns about api-only options"
conf noch 'token = "env:SLACK_TOKEN";' 1
run noch; is "$rc" 3 "api mode without a channel: refused"
like "$TMP/noch.err" "needs the option channel" "and said"
export SLACK_FAR="http://hooks.example.com$HOOKPATH"
conf far 'mode = "webhook"; webhook_url = "env:SLACK_FAR";' 1
run far; like "$TMP/far.err" "(http://hooks.example.com/…) is plain http://" "plain http to another host is refused, naming the origin only"
no_secrets far "not the path"

# ------------------------------------------------ hostile names (demo A1)
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
cp "$top_srcdir/config/queries.conf" "$TMP/queries.conf"
a1conf() {  # a1conf NAME ACTION-OPTIONS
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state_$1";
query_library = "queries.conf";
sources = { warehouse = { plugin = "sqlite"; database = "$db"; }; };
actions = { copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; slack = { plugin = "slack_alert"; outbox = false; $2 }; };
pipelines = { at_risk = { analysis = "A1"; options = { as_of = "2026-11-01"; };
  inputs = { accounts = { source = "warehouse"; named_query = "a1_accounts"; };
             opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
             usage = { source = "warehouse"; named_query = "a1_usage"; }; };
  actions = ( { action = "copy"; min_priority = "low"; }, { action = "slack"; min_priority = "low"; } ); }; };
C
}
a1conf a1plain "$(api)"
run a1plain; is "$rc" 0 "the demo's A1 pipeline runs"
"$PYTHON" - "$db" "$TMP/a1plain.jsonl" > "$TMP/hostile.out" <<'PY'
import json, sqlite3, sys
names = ['<!channel> <!here> <@U123> <https://evil.example|click>', '<script>alert("x")</script> & co',
         '*bold* _it_ ~strike~ `code`', 'Line one\nLine two\r\n\ttabbed \u0001 ctl',
         "\u00c9" * 5000 + "long" + "x" * 4996]
accts = sorted({json.loads(l)["account_id"] for l in open(sys.argv[2], encoding="utf-8")})
con = sqlite3.connect(sys.argv[1])
for i, a in enumerate(accts):
    con.execute("UPDATE salesforce_account_d SET sf_account_name = ? WHERE sf_account_id = ?", (names[i % len(names)], a))
con.commit()
print(len(accts), len(names[4]))
PY
is "$(cut -d' ' -f2 "$TMP/hostile.out")" 10000 "one name is 10,000 characters"
a1conf hostile "$(api) title = \"{{account_name}} ({{priority}})\";"
run hostile; is "$rc" 0 "hostile names, one message per finding: every post accepted (exit 0)"
a1conf hostiled "$(api) digest = true;"
run hostiled; is "$rc" 0 "hostile names in a digest: accepted (exit 0)"
HOSTILE_CHECK='
import re
out = set()
for name in sys.argv[2:]:
    for p in posts(name):
        ts = texts(p["body"])
        allt = "\n".join(ts)
        out.add(("status", p["status"]))
        out.add(("raw <!channel> or <script>", "<!channel>" in allt or "<script>" in allt or "<@U123>" in allt or "<https:" in allt))
        out.add(("stray < or >", bool(re.search(r"[<>]", allt))))
        out.add(("header <= 150", all(len(b["text"]["text"]) <= 150 for b in p["body"]["blocks"] if b["type"] == "header")))
        out.add(("sections <= 3000", all(len(b["text"]["text"]) <= 3000 for b in p["body"]["blocks"] if b["type"] == "section")))
        out.add(("blocks <= 50", len(p["body"]["blocks"]) <= 50))
print(sorted(out))
'
py hostile "$HOSTILE_CHECK" hostile hostiled > /dev/null
is "$(cat "$TMP/hostile.py")" "[('blocks <= 50', True), ('header <= 150', True), ('raw <!channel> or <script>', False), ('sections <= 3000', True), ('status', 'ok'), ('stray < or >', False)]" \
    "the fake accepted every message; no <!channel>, <@U>, <url|x> or <script> survives; Block Kit's limits kept"
py hostile2 '
seen = {}
for p in posts("hostile"):
    h = p["body"]["blocks"][0]["text"]["text"]; body = p["body"]["blocks"][1]["text"]["text"]
    for key in ("&lt;!channel&gt;", "&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; co", "*bold* _it_", "Line one\nLine two\r\n\ttabbed \u0001 ctl"):
        if key in body: seen[key] = True
    if h.startswith("\u00c9" * 10): seen["long header"] = (len(h), h.endswith("\u2026"))
    if body.startswith("*Account:* \u00c9"): seen["long body"] = (len(body) <= 3000, "\u2026" in body)
print(sorted(seen.items()))' > /dev/null
is "$(cat "$TMP/hostile2.py")" "[('&lt;!channel&gt;', True), ('&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; co', True), ('*bold* _it_', True), ('Line one\nLine two\r\n\ttabbed \x01 ctl', True), ('long body', (True, True)), ('long header', (150, True))]" \
    "names arrive entity-escaped (& < >), line breaks inside valid JSON, the long name cut with … (header 150 characters)"
is "$(py hostiled 'print(sorted(set((len(b["text"]["text"]) <= 450, sum(len(t) for t in texts(p["body"])[1:]) < 13000) for p in posts("hostiled") for b in p["body"]["blocks"] if b["type"] == "section")))')" \
    "[(True, True)]" "a digest keeps each finding to 450 characters and its blocks under 13,000 in all (msg_blocks_too_long)"
no_secrets hostile "no token in the output"

done_testing
