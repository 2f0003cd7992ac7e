#!/bin/sh
# The webhook sink through the real binary, against tests/fake_webhook.py (a Zapier-style
# catch hook that records every request, checks HMAC signatures with Python's hmac and
# dedupes by Idempotency-Key): the payload of both formats, the signature and a wrong
# secret, the idempotency key (the delivery id, stable across runs: the second run makes
# no new event), 500 and 429 retried (Retry-After honoured), a 400 final with the
# receiver's words, a body template that is not JSON, and hostile account names that
# arrive as valid JSON and round-trip exactly.  No secret may appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so webhook.so file.so sqlite.so at_risk_accounts.so

SECRET=whsec-5f1c9e0a77-signing-key-do-not-print
WRONG=whsec-0000000000-not-the-right-key
TOKEN=zt-bearer-8c1d2e3f-do-not-print
HOOK=/hooks/catch/4242/r3v0ps5ecr3tp4th/
export WEBHOOK_SECRET="$SECRET" WEBHOOK_WRONG="$WRONG" HOOK_TOKEN="$TOKEN"

# hook_fake NAME FD [fake args]: start tests/fake_webhook.py recording to $TMP/NAME.rec;
# its stdin is a fifo held open on FD (it exits with the test); sets NAME_PORT.
hook_fake() {
    name=$1 fd=$2; shift 2
    fifo="$TMP/$name.fifo"
    mkfifo "$fifo"
    : > "$TMP/$name.rec"
    "$PYTHON" "$top_srcdir/tests/fake_webhook.py" --record "$TMP/$name.rec" "$@" \
        < "$fifo" > "$TMP/$name.port" 2> "$TMP/$name.err" &
    eval "exec $fd> \"\$fifo\""
    for _ in $(seq 100); do
        grep -q PORT "$TMP/$name.port" 2>/dev/null && break
        sleep 0.05
    done
    port=$(sed -n 's/^PORT //p' "$TMP/$name.port")
    [ -n "$port" ] || { echo "Bail out! fake_webhook.py did not start: $(cat "$TMP/$name.err")"; exit 1; }
    eval "${name}_PORT=$port"
}
hook_fake signed 7 --secret "$SECRET"
hook_fake plain 6
hook_fake strict 5 --secret "$SECRET" --tolerance 2
export HOOK_SIGNED="http://127.0.0.1:$signed_PORT$HOOK" HOOK_PLAIN="http://127.0.0.1:$plain_PORT$HOOK"
export HOOK_STRICT="http://127.0.0.1:$strict_PORT$HOOK"

# conf NAME ACTION-OPTIONS [FINDINGS]: tp_rows -> tp_sum (FINDINGS findings, default 4),
# routed to the webhook action "hook" and to a file action (the host's finding JSON).
# outbox = false: these tests drive the sink itself, every run (its own
# idempotency across reruns); the outbox is tested in tests/outbox.sh.
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = { hook = { plugin = "webhook"; outbox = false; $2 };
            copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; };
pipelines = { p = { analysis = "A5"; options = { findings = ${3:-4}; };
                    inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( { action = "hook"; min_priority = "low"; }, { action = "copy"; min_priority = "low"; } ); }; };
C
}
run() {  # run NAME -> $TMP/NAME.out / .err; status in $rc
    rm -f "$TMP/$1.jsonl"
    "$REVOPS" run -c "$TMP/$1.conf" --session-id "wh_$1" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
}
stats() {  # stats FAKE FIELD: the fake's counter
    "$PYTHON" -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/_control/stats" % sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
fail_next() {  # fail_next PORT JSON: the fake answers the next requests so
    "$PYTHON" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/_control/fail" % sys.argv[1], sys.argv[2].encode(),
                                              {"Content-Type": "application/json"})).read()' "$1" "$2"
}
# py NAME SCRIPT [ARGS]: run a check script on the records; its output in $TMP/NAME.py
py() {
    n=$1 s=$2; shift 2
    "$PYTHON" -c "$s" "$@" > "$TMP/$n.py" 2>&1
    cat "$TMP/$n.py"
}
# recs FAKE FROM: the fake's records from line FROM on
REC_LIB='
import hashlib, json, sys
def recs(name, start=1):
    return [json.loads(l) for l in open(sys.argv[1] + "/" + name + ".rec", encoding="utf-8")][start - 1:]
def strict(text):
    def bad(c): raise ValueError(c)
    return json.loads(text, parse_constant=bad)
def hdr(r, name):
    return {k.lower(): v for k, v in r["headers"].items()}.get(name.lower())
def findings(name):
    return {json.loads(l)["fingerprint"]: json.loads(l) for l in open(sys.argv[1] + "/" + name + ".jsonl", encoding="utf-8")}
def did(fp, action="hook"):
    return hashlib.sha256((fp + "\n" + action).encode()).hexdigest()[:32]
'
nrec() { wc -l < "$TMP/$1.rec" | tr -d ' '; }
# no_secrets NAME DESCRIPTION: no secret in revops' output nor in the run records
no_secrets() {
    cat "$TMP/$1.out" "$TMP/$1.err" "$TMP/state/runs.jsonl" 2>/dev/null > "$TMP/$1.all"
    leaked=""
    for s in "$SECRET" "$WRONG" "$TOKEN"; do grep -qF -- "$s" "$TMP/$1.all" && leaked="$leaked $s"; done
    is "$leaked" "" "$2"
}

# ------------------------------------------------------------ the plugin
REVOPS_PLUGIN_PATH="$TMP/plugins" "$REVOPS" plugins > "$TMP/plugins.out" 2>&1
like "$TMP/plugins.out" "webhook (action)" "revops plugins lists the webhook action"
like "$TMP/plugins.out" "url                    string, required, secret" "its url is a secret option (the hook URL is the credential)"

# ------------------------------------------- format "finding" (the default)
conf fmt 'url = "env:HOOK_PLAIN";'
run fmt; is "$rc" 0 "format finding: the run delivers (exit 0)"
is "$(nrec plain)" 4 "one POST per finding"
py fmt "$REC_LIB"'
fs = findings("fmt"); out = []
for r in recs("plain"):
    b = strict(r["body"]); f = b["finding"]
    out.append("%s|%s|%s|%s|%s|%s|%s|%s" % (r["verdict"], sorted(b), b["event"], b["session_id"], b["pipeline"],
        f == fs[f["fingerprint"]], b["delivery_id"] == did(f["fingerprint"]) == hdr(r, "Idempotency-Key"),
        (hdr(r, "Content-Type"), hdr(r, "X-Revops-Signature"), r["path"])))
print("\n".join(sorted(set(out))))' "$TMP" > /dev/null
is "$(cat "$TMP/fmt.py")" "event|['delivery_id', 'event', 'finding', 'pipeline', 'session_id']|revops.finding|wh_fmt|p|True|True|('application/json', None, '$HOOK')" \
    "each body is {event: revops.finding, delivery_id, session_id, pipeline, finding: the host's finding JSON}; Idempotency-Key = delivery id = sha256(fingerprint, action)[:32]; no signature without a secret"

# ---------------------------------------- idempotency across two runs
ev=$(stats "$plain_PORT" events); dup=$(stats "$plain_PORT" duplicates); before=$(nrec plain)
run fmt; is "$rc" 0 "second run of the same findings: exit 0"
is "$(( $(stats "$plain_PORT" events) - ev )) $(( $(stats "$plain_PORT" duplicates) - dup ))" "0 4" \
    "the fake counts 0 new events and 4 duplicates on the second run"
py idem "$REC_LIB"'
first = {strict(r["body"])["finding"]["fingerprint"]: hdr(r, "Idempotency-Key") for r in recs("plain")[:4]}
second = {strict(r["body"])["finding"]["fingerprint"]: hdr(r, "Idempotency-Key") for r in recs("plain", 5)}
print(first == second and len(first) == 4, sorted(set(r["verdict"] for r in recs("plain", 5))))' "$TMP" > /dev/null
is "$(cat "$TMP/idem.py")" "True ['duplicate']" "each finding's Idempotency-Key is the same on both runs"
no_secrets fmt "no secret in the output"

# ------------------------------------------------- format "template"
conf tmpl 'url = "env:HOOK_PLAIN"; format = "template";'
start=$(( $(nrec plain) + 1 ))
run tmpl; is "$rc" 0 "format template (the default body): exit 0"
py tmpl "$REC_LIB"'
fs = findings("tmpl"); out = set()
for r in recs("plain", int(sys.argv[2])):
    b = strict(r["body"]); f = fs[b["fingerprint"]]
    out.add("%s %s %s" % (list(b) == ["delivery_id", "fingerprint", "analysis", "category", "priority", "score", "account_id",
        "account_name", "title", "description", "signals", "actions", "pipeline", "session_id"],
        b["delivery_id"] == hdr(r, "Idempotency-Key") == did(f["fingerprint"]),
        (b["score"] == round(f["score"], 2), b["account_id"] == f["account_id"], b["account_name"] == f["account_id"],
         b["title"] == f["title"], b["priority"] == f["priority"], b["session_id"] == "wh_tmpl",
         b["signals"].startswith("- rows: 5 (threshold 0): rows seen\n- id_sum:"))))
print(sorted(out))' "$TMP" "$start" > /dev/null
is "$(cat "$TMP/tmpl.py")" "['True True (True, True, True, True, True, True, True)']" \
    "the default body: delivery_id first, then the finding's fields rendered (score a number, signals as text)"

conf custom 'url = "env:HOOK_PLAIN"; body = "{\"text\": \"{{title}} ({{priority}})\", \"meta\": {\"account\": \"{{account_id}}\", \"delivery_id\": 1}}";' 1
start=$(( $(nrec plain) + 1 ))
run custom; is "$rc" 0 "a body template of your own (setting body implies format template): exit 0"
py custom "$REC_LIB"'
r = recs("plain", int(sys.argv[2]))[0]; b = strict(r["body"])
print(json.dumps(b) == json.dumps({"delivery_id": hdr(r, "Idempotency-Key"), "text": "finding 0 (low)",
                                   "meta": {"account": "acct-000", "delivery_id": 1}}))' "$TMP" "$start" > /dev/null
is "$(cat "$TMP/custom.py")" "True" "it is sent as rendered, delivery_id added first at the top level only"

conf both 'url = "env:HOOK_PLAIN"; format = "finding"; body = "{}";' 1
run both; is "$rc" 3 "body with format = \"finding\": the deliveries fail (exit 3)"
like "$TMP/both.err" 'option body is set but format = "finding"' "and the error says which options contradict"

# -------------------------------------------- a body that is not JSON
start=$(nrec plain)
conf badjson 'url = "env:HOOK_PLAIN"; body = "{\"name\": {{account_name}}}";' 2
run badjson; is "$rc" 3 "a body template that renders to invalid JSON: exit 3"
like "$TMP/badjson.err" "option 'body' renders to invalid JSON for account acct-000: not a JSON value at byte 9 (near 'acct-000}')" \
    "the error names the option, the account and where the JSON breaks"
conf comma 'url = "env:HOOK_PLAIN"; body = "{\"name\": \"{{account_name}}\",}";' 1
run comma; is "$rc" 3 "a trailing comma (which json-c would take) is refused too"
like "$TMP/comma.err" "a trailing comma at byte" "and said"
is "$(nrec plain)" "$start" "nothing was sent for either"

# ----------------------------------------------------- the signature
conf sig 'url = "env:HOOK_SIGNED"; secret = "env:WEBHOOK_SECRET";'
run sig; is "$rc" 0 "signed deliveries: exit 0"
is "$(stats "$signed_PORT" events) $(stats "$signed_PORT" refused)" "4 0" "the fake verified all 4 signatures with Python's hmac"
py sig "$REC_LIB"'
import hmac, time
ok = set()
for r in recs("signed"):
    ts, sig = hdr(r, "X-Revops-Timestamp"), hdr(r, "X-Revops-Signature")
    want = "sha256=" + hmac.new(sys.argv[2].encode(), (ts + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
    ok.add((sig == want, abs(time.time() - int(ts)) < 120, len(sig)))
print(sorted(ok))' "$TMP" "$SECRET" > /dev/null
is "$(cat "$TMP/sig.py")" "[(True, True, 71)]" \
    "X-Revops-Signature: sha256=<hex HMAC-SHA256(secret, timestamp.body)>, X-Revops-Timestamp is now"
no_secrets sig "the signing secret is in no output"

conf wrong 'url = "env:HOOK_SIGNED"; secret = "env:WEBHOOK_WRONG";'
run wrong; is "$rc" 3 "a wrong secret: the receiver refuses every delivery (exit 3)"
is "$(stats "$signed_PORT" events) $(stats "$signed_PORT" refused)" "4 4" "the fake refused 4 with 401, no new event"
like "$TMP/wrong.err" 'HTTP 401: {"status": "error", "message": "signature mismatch"}' "the error gives the receiver's answer"
is "$(grep -c 'not delivered' "$TMP/wrong.err")" 4 "each finding is reported, once (a 401 is final)"
no_secrets wrong "neither secret is in any output"

# A captured request replayed: accepted as a duplicate while fresh, refused once its
# timestamp is older than five minutes (the reason the timestamp is signed).
py replay "$REC_LIB"'
import hmac, time, urllib.request, urllib.error
r = recs("signed")[0]
def post(ts, sig):
    h = {k: v for k, v in r["headers"].items() if k.lower() not in ("host", "content-length", "x-revops-timestamp", "x-revops-signature")}
    h.update({"X-Revops-Timestamp": ts, "X-Revops-Signature": sig})
    try:
        return urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[3], r["path"]), r["body"].encode(), h)).status
    except urllib.error.HTTPError as e:
        return e.code
old = str(int(time.time()) - 600)
print(post(hdr(r, "X-Revops-Timestamp"), hdr(r, "X-Revops-Signature")),
      post(old, "sha256=" + hmac.new(sys.argv[2].encode(), (old + "." + r["body"]).encode(), hashlib.sha256).hexdigest()))' \
    "$TMP" "$SECRET" "$signed_PORT" > /dev/null
is "$(cat "$TMP/replay.py")" "200 401" "the fake: a replay is a duplicate while fresh, refused when ten minutes old"

# -------------------------------------------------- extra headers
conf hdr 'url = "env:HOOK_PLAIN"; header = [ "Authorization: Bearer env:HOOK_TOKEN", "X-Team: rev ops" ];' 1
start=$(( $(nrec plain) + 1 ))
run hdr; is "$rc" 0 "extra headers: exit 0"
py hdr "$REC_LIB"'
r = recs("plain", int(sys.argv[2]))[0]
print(hdr(r, "Authorization") == "Bearer " + sys.argv[3], hdr(r, "X-Team"))' "$TMP" "$start" "$TOKEN" > /dev/null
is "$(cat "$TMP/hdr.py")" "True rev ops" "header entries are sent; \"Bearer env:NAME\" is resolved"
no_secrets hdr "the bearer token is in no output"
conf hdrbad 'url = "env:HOOK_PLAIN"; header = [ "Idempotency-Key: mine" ];' 1
run hdrbad; is "$rc" 3 "a header that would replace the idempotency key is refused"
like "$TMP/hdrbad.err" "option header, entry 1: Idempotency-Key is set by the webhook action itself" "and said"

# ----------------------------------------------------- url checks
HOOK_FAR="http://hooks.example.com/hooks/catch/1/farsecretpath/"; export HOOK_FAR
conf far 'url = "env:HOOK_FAR";' 1
run far; is "$rc" 3 "plain http to another host is refused"
like "$TMP/far.err" "option url (http://hooks.example.com/…) is plain http:// to a host other than 127.0.0.1" \
    "naming scheme and host only"
unlike "$TMP/far.err" "farsecretpath" "the hook's path (its credential) is not shown"

# Nobody listening: transient (RETRY) through every retry; the reason shows the origin
# only.  (The host's own "retrying" log lines name the URL's path: see the report.)
CLOSED=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export HOOK_CLOSED="http://127.0.0.1:$CLOSED/hooks/catch/1/closedsecretpath/"
conf closed 'url = "env:HOOK_CLOSED";' 1
run closed; is "$rc" 3 "nobody listening: the delivery fails after the retries (exit 3)"
grep 'not delivered' "$TMP/closed.err" > "$TMP/closed.lines"
like "$TMP/closed.lines" "http://127.0.0.1:$CLOSED/…: " "the reason names scheme, host and port"
unlike "$TMP/closed.lines" "closedsecretpath" "not the hook's path"

# ------------------------------------------ 500: the host retries, then the core
fail_next "$plain_PORT" '{"status": 500, "times": 1}'
start=$(( $(nrec plain) + 1 )); ev=$(stats "$plain_PORT" events)
conf r500 'url = "env:HOOK_PLAIN";'
run r500; is "$rc" 0 "a 500 is retried by the host: exit 0"
py r500 "$REC_LIB"'
rs = recs("plain", int(sys.argv[2]))
print(" ".join("%s:%s" % (r["status"], r["verdict"]) for r in rs), hdr(rs[0], "Idempotency-Key") == hdr(rs[1], "Idempotency-Key"))' \
    "$TMP" "$start" > /dev/null
is "$(cat "$TMP/r500.py")" "500:fault 200:duplicate 200:duplicate 200:duplicate 200:duplicate True" \
    "the same request again (same Idempotency-Key), then the rest"

fail_next "$plain_PORT" '{"status": 503, "times": 3}'
start=$(( $(nrec plain) + 1 ))
conf r503 'url = "env:HOOK_PLAIN";' 5
run r503; is "$rc" 0 "503 through all of the host's attempts: RETRY, and the core's retry delivers: exit 0"
py r503 "$REC_LIB"'
rs = recs("plain", int(sys.argv[2]))
print(" ".join(str(r["status"]) for r in rs), len(set(hdr(r, "Idempotency-Key") for r in rs[:4])))' "$TMP" "$start" > /dev/null
is "$(cat "$TMP/r503.py")" "503 503 503 200 200 200 200 200 1" \
    "three attempts for the first finding; the rest of the batch waits for the core's retry instead of failing too"
like "$TMP/r503.err" "5 deliveries will be retried" "the core retries all five"
like "$TMP/r503.err" "HTTP 503 after 3 attempts (the endpoint's retries ran out): <html><body><h1>503</h1></body></html>" \
    "with the receiver's answer as the reason"
is "$(( $(stats "$plain_PORT" events) - ev ))" 1 "one new event in all (the fifth finding; four were sent before)"

# ------------------------------------------------- 429 with Retry-After
fail_next "$plain_PORT" '{"status": 429, "times": 1, "retry_after": 2, "body": "{\"status\": \"throttled\"}"}'
start=$(( $(nrec plain) + 1 ))
conf r429 'url = "env:HOOK_PLAIN";' 1
run r429; is "$rc" 0 "a 429 is retried: exit 0"
py r429 "$REC_LIB"'
rs = recs("plain", int(sys.argv[2]))
print(" ".join(str(r["status"]) for r in rs), rs[1]["t"] - rs[0]["t"] >= 1.9)' "$TMP" "$start" > /dev/null
is "$(cat "$TMP/r429.py")" "429 200 True" "after the 2 seconds Retry-After asked for (the retry interval is 0.05 s)"

# A signed request the host resends after a long Retry-After carries its first
# timestamp: a receiver with a 2 s tolerance finds it stale (401); the plugin says RETRY
# and the core's retry is signed afresh.
fail_next "$strict_PORT" '{"status": 429, "times": 1, "retry_after": 4}'
conf stale 'url = "env:HOOK_STRICT"; secret = "env:WEBHOOK_SECRET";' 1
run stale; is "$rc" 0 "a signature gone stale during the host's retries: signed again, delivered (exit 0)"
py stale "$REC_LIB"'
rs = recs("strict")
print(" ".join("%s:%s" % (r["status"], r["verdict"]) for r in rs),
      hdr(rs[0], "X-Revops-Timestamp") == hdr(rs[1], "X-Revops-Timestamp") != hdr(rs[2], "X-Revops-Timestamp"))' "$TMP" > /dev/null
is "$(cat "$TMP/stale.py")" "429:fault 401:stale 200:event True" "429, the same timestamp refused as stale, then a fresh one accepted"
like "$TMP/stale.err" "HTTP 401 on attempt 2: the signature's timestamp may have gone stale" "the log says why it is retried"

# 408 is not one the host retries: the plugin says RETRY and the core sends it again.
fail_next "$plain_PORT" '{"status": 408, "times": 1, "body": "{\"status\": \"timeout\"}"}'
start=$(( $(nrec plain) + 1 ))
conf r408 'url = "env:HOOK_PLAIN";' 2
run r408; is "$rc" 0 "a 408 is transient: exit 0"
py r408 "$REC_LIB"'
rs = recs("plain", int(sys.argv[2]))
print(" ".join(str(r["status"]) for r in rs))' "$TMP" "$start" > /dev/null
is "$(cat "$TMP/r408.py")" "408 200 200" "the finding is sent again by the core's retry"
like "$TMP/r408.err" 'will be retried in' "the core says it retries"
like "$TMP/r408.err" 'HTTP 408 after 1 attempt: {"status": "timeout"}' "with the receiver's answer"

# ----------------------------------------------------- 400: final
LONG=$("$PYTHON" -c 'print("y" * 400)')
fail_next "$plain_PORT" "{\"status\": 400, \"times\": 1, \"body\": \"{\\\"status\\\": \\\"error\\\", \\\"message\\\": \\\"Field account is required $LONG\\\"}\"}"
start=$(( $(nrec plain) + 1 ))
conf r400 'url = "env:HOOK_PLAIN";' 6
run r400; is "$rc" 3 "a 400 is final: exit 3"
py r400 "$REC_LIB"'
rs = recs("plain", int(sys.argv[2]))
print(" ".join(str(r["status"]) for r in rs))' "$TMP" "$start" > /dev/null
is "$(cat "$TMP/r400.py")" "400 200 200 200 200 200" "not retried; the other findings are delivered"
like "$TMP/r400.err" 'not delivered: HTTP 400: {"status": "error", "message": "Field account is required yyy' "the reason is the receiver's answer"
is "$(sed -n 's/.*not delivered: HTTP 400: //p' "$TMP/r400.err" | awk '{ print length($0) }')" 203 \
    "its first 200 bytes, then ..."
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/r400.rec.json"
is "$(jget "$TMP/r400.rec.json" "[(a['action'], a['delivered'], a['failed']) for a in d['actions'] if a['action'] == 'hook']")" \
    "[('hook', 5, 1)]" "the run record counts 5 delivered, 1 failed"

# --------------------------------------- hostile account names (demo A1)
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
cp "$top_srcdir/config/queries.conf" "$TMP/queries.conf"
a1conf() {  # a1conf NAME ACTIONS ROUTES
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
query_library = "queries.conf";
sources = { warehouse = { plugin = "sqlite"; database = "$db"; }; };
actions = { copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; $2 };
pipelines = { at_risk = { analysis = "A1"; options = { as_of = "2026-11-01"; };
  inputs = { accounts = { source = "warehouse"; named_query = "a1_accounts"; };
             opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
             usage = { source = "warehouse"; named_query = "a1_usage"; }; };
  actions = ( { action = "copy"; min_priority = "low"; } $3 ); }; };
C
}
a1conf a1plain ""  ""
run a1plain; is "$rc" 0 "the demo's A1 pipeline runs"
# Give the accounts with findings hostile names, in turn.
"$PYTHON" - "$db" "$TMP/a1plain.jsonl" > "$TMP/hostile.out" <<'PY'
import json, sqlite3, sys
names = ['Quote "Co" \\ back\\slash \'single\'', '<script>alert("x")</script> & <!channel> <@U123>',
         'Line one\nLine two\r\n\ttabbed \u0001 ctl', "\u00c9" * 5000 + "long" + "x" * 4996, 'emoji \U0001F680 ok}{"]']
accts = sorted({json.loads(l)["account_id"] for l in open(sys.argv[2], encoding="utf-8")})
con = sqlite3.connect(sys.argv[1])
for i, a in enumerate(accts):
    con.execute("UPDATE salesforce_account_d SET sf_account_name = ? WHERE sf_account_id = ?", (names[i % len(names)], a))
con.commit()
print(len(accts), len(names[3]))
PY
is "$(cut -d' ' -f2 "$TMP/hostile.out")" 10000 "one name is 10,000 characters"
a1conf hostile 'hook_f = { plugin = "webhook"; outbox = false; url = "env:HOOK_PLAIN"; secret = "env:WEBHOOK_SECRET"; };
                hook_t = { plugin = "webhook"; outbox = false; url = "env:HOOK_SIGNED"; secret = "env:WEBHOOK_SECRET"; format = "template"; };' \
    ', { action = "hook_f"; min_priority = "low"; }, { action = "hook_t"; min_priority = "low"; }'
pstart=$(( $(nrec plain) + 1 )); sstart=$(( $(nrec signed) + 1 ))
run hostile; is "$rc" 0 "hostile names: every delivery succeeds (exit 0)"
py hostile "$REC_LIB"'
fs = findings("hostile")
got = {}
for name, start, key in (("plain", int(sys.argv[2]), "f"), ("signed", int(sys.argv[3]), "t")):
    for r in recs(name, start):
        b = strict(r["body"])
        f = b["finding"] if key == "f" else b
        want = fs[f["fingerprint"]]
        got.setdefault(key, []).append((r["verdict"], f["account_name"] == want["account_name"], f["title"] == want["title"],
                                        f["description"] == want["description"], len(f["account_name"])))
kinds = lambda k: sorted({n for _, _, _, _, n in got[k]})
print(len(got["f"]) == len(fs) == len(got["t"]), sorted({x[:4] for k in got for x in got[k]}), 10000 in kinds("f"), 10000 in kinds("t"))' \
    "$TMP" "$pstart" "$sstart" > /dev/null
is "$(cat "$TMP/hostile.py")" "True [('event', True, True, True)] True True" \
    "both formats: strict JSON that the receiver accepts, names, titles and descriptions round-trip exactly (the 10,000-character one whole)"
py hostile2 "$REC_LIB"'
names = set()
for r in recs("plain", int(sys.argv[2])):
    names.add(strict(r["body"])["finding"]["account_name"][:12])
print(sorted(names))' "$TMP" "$pstart" > /dev/null
like "$TMP/hostile2.py" "'<script>aler'" "the <script> name is among them"
like "$TMP/hostile2.py" "'Line one\\nLin'" "the one with line breaks too"
like "$TMP/hostile2.py" "'Quote \"Co\" \\\\'" "and the one with quotes and backslashes"
no_secrets hostile "no secret in the output"

done_testing
