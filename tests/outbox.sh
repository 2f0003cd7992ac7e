#!/bin/sh
# The outbox through the real binary: findings -> the webhook sink -> tests/fake_webhook.py
# (a catch hook that dedupes by Idempotency-Key and counts new events and duplicates).
#  - once per (finding, action): a second run sends nothing; the findings file (an
#    every-run output) still gets every finding;
#  - re-alerts: a priority that rises, a finding that closes and comes back, the
#    suppression window passing; each a new occurrence with its own delivery id;
#  - a sink down for a whole run: kept, delivered by a later run, also when the later
#    run no longer produces the finding (rebuilt from the store);
#  - retry_runs exhausted: failed, listed by `revops outbox` (exit 3), not retried until
#    `revops outbox --requeue`; `revops outbox --deliver [--dry-run]`;
#  - crash safety: SIGKILL after N confirmed deliveries (REVOPS_TEST_KILL_AFTER_DELIVERIES),
#    one call per finding and one call for all 50: the next run delivers exactly the
#    rest, every finding arrives once as an event, nothing twice, nothing lost;
#  - routing by owner and by analysis (top-level routing rules); dry runs write nothing;
#  - revops runs / findings read the analytics back; configuration errors name file:line.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so webhook.so file.so
HOOK=/hooks/catch/4242/0utb0x/

fifo="$TMP/hook.fifo"
mkfifo "$fifo"
: > "$TMP/hook.rec"
"$PYTHON" "$top_srcdir/tests/fake_webhook.py" --record "$TMP/hook.rec" < "$fifo" > "$TMP/hook.port" 2> "$TMP/hook.err" &
exec 7> "$fifo"
for _ in $(seq 100); do grep -q PORT "$TMP/hook.port" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^PORT //p' "$TMP/hook.port")
[ -n "$PORT" ] || { echo "Bail out! fake_webhook.py did not start: $(cat "$TMP/hook.err")"; exit 1; }
export HOOK_URL="http://127.0.0.1:$PORT$HOOK"

# conf NAME STATE TP-OPTIONS [HOOK-OPTIONS] [TOP-LEVEL] [ROUTES]: the webhook action is
# named $A (default hook): each part of this test names its own, so that its delivery ids
# (sha256 of fingerprint and action) are new to the shared fake hook.
A=hook
conf() {
    routes=${6:-"\"$A\", \"copy\""}
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/$2";
retry = { interval = 0.02; backoff_rate = 1.0; max_attempts = 2; };
delivery = { retry_backoff = 0; ${DELIVERY:-} };
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = { $A = { plugin = "webhook"; url = "env:HOOK_URL"; $4 };
            copy = { plugin = "file"; path = "$TMP/$1.jsonl"; }; };
$5
pipelines = { p = { analysis = "A5"; options = { $3 };
                    inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( $routes ); }; };
C
}
run() {  # run NAME [ARGS]: $TMP/NAME.out / .err, status in $rc
    n=$1; shift
    rm -f "$TMP/$n.jsonl"
    "$REVOPS" run -c "$TMP/$n.conf" --format json "$@" > "$TMP/$n.out" 2> "$TMP/$n.err"
    rc=$?
}
stats() {
    "$PYTHON" -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/_control/stats" % sys.argv[1]))[sys.argv[2]])' "$PORT" "$1"
}
fail_next() {
    "$PYTHON" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/_control/fail" % sys.argv[1], sys.argv[2].encode(),
                                              {"Content-Type": "application/json"})).read()' "$PORT" "$1"
}
mark() { wc -l < "$TMP/hook.rec" | tr -d ' '; }
# since N EXPR: evaluate EXPR over the hook requests recorded after line N (as r: a list)
since() {
    "$PYTHON" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]]
def key(x): return {k.lower(): v for k, v in x["headers"].items()}.get("idempotency-key")
def body(x): return json.loads(x["body"])
print(eval(sys.argv[3]))' "$TMP/hook.rec" "$1" "$2" 2>&1
}
db() { sqlite3 "$TMP/$1/state.db" "$2" 2>&1; }
act() {  # act NAME FIELD: the hook action's counter in the run's JSON
    jget "$TMP/$1.out" "[a for a in d['runs'][0]['actions'] if a['action']=='$A'][0]['$2']"
}

# ---------------------------------------------------------------- once per finding
conf base s1 "findings = 6;"
m=$(mark); run base
is "$rc" 0 "first run: delivered"
is "$(since "$m" "len([x for x in r if x['verdict']=='event'])")" 6 "6 findings, 6 new events at the hook"
is "$(db s1 "SELECT state, count(*) FROM deliveries GROUP BY state")" "delivered|6" "the outbox: 6 delivered"
is "$(db s1 "SELECT count(*) FROM findings WHERE status='open'")" 6 "the state store knows 6 open findings"
m=$(mark); run base
is "$rc" 0 "second run, same findings: ok"
is "$(mark)" "$m" "the hook gets no request at all"
is "$(act base suppressed)" 6 "the run record: 6 already delivered (suppressed)"
is "$(wc -l < "$TMP/base.jsonl" | tr -d ' ')" 6 "the findings file (an every-run output) still gets all 6"
like "$TMP/base.err" "6 already delivered and still open" "the log says why nothing was sent"

# ---------------------------------------------------------------- re-alerts
conf raised s1 "findings = 6; raise = 1;"
m=$(mark); run raised
is "$(since "$m" "[body(x)['priority'] if 'priority' in body(x) else body(x)['finding']['priority'] for x in r]" | tr -d "'")" "[critical]" \
   "finding 1's priority rose (medium -> critical): one re-alert, nothing else"
first=$(db s1 "SELECT delivery_id FROM deliveries WHERE occurrence=1 AND fingerprint=(SELECT fingerprint FROM findings WHERE account_id='acct-001')")
second=$(db s1 "SELECT delivery_id FROM deliveries WHERE occurrence=2")
is "$(since "$m" "key(r[0])")" "$second" "the re-alert carries occurrence 2's delivery id"
ok "$([ -n "$first" ] && [ "$first" != "$second" ]; echo $?)" "which differs from the first alert's"
m=$(mark); run raised
is "$(mark)" "$m" "the same critical finding again: suppressed"

conf gone s1 "findings = 6; raise = 1; omit = 2;"
m=$(mark); run gone
is "$(mark)" "$m" "finding 2 left out: nothing sent"
is "$(db s1 "SELECT status FROM findings WHERE account_id='acct-002'")" closed "it is closed in the state store"
like "$TMP/gone.err" "1 finding of this pipeline no longer found: closed" "the log says so"
m=$(mark); run raised
is "$(since "$m" "[body(x).get('account_id') or body(x)['finding']['account_id'] for x in r]" | tr -d "'")" "[acct-002]" \
   "finding 2 back: re-alerted (it had closed), the others not"
is "$(db s1 "SELECT occurrence FROM deliveries WHERE delivery_id='$(since "$m" "key(r[0])")'")" 2 "as occurrence 2"

m=$(mark); REVOPS_NOW=2099-01-01 run raised
is "$(since "$m" "len([x for x in r if x['verdict']=='event'])")" 6 "past the 7-day suppression window: all 6 re-alerted"
m=$(mark); REVOPS_NOW=2099-01-03 run raised
is "$(mark)" "$m" "two days later: inside the window again"

# ---------------------------------------------------------------- a sink down for a whole run
A=hook_down
conf down s2 "findings = 6;"
fail_next '{"status": 503, "times": 1000}'
m=$(mark); run down
is "$rc" 3 "the hook answers 503 all run: exit 3"
is "$(act down deferred)" 6 "6 kept for a later run"
is "$(db s2 "SELECT state, attempts, count(*) FROM deliveries GROUP BY state, attempts")" "pending|1|6" "6 pending, tried by 1 run"
like "$TMP/down.err" "kept for a later run" "the log says they are kept"
"$REVOPS" outbox -c "$TMP/down.conf" > "$TMP/ob1.out" 2>&1; orc=$?
is "$orc" 0 "revops outbox: pending only, exit 0"
like "$TMP/ob1.out" "0 failed, 6 pending" "revops outbox lists the 6 pending"
like "$TMP/ob1.out" "503" "with the receiver's answer"
fail_next '{"clear": true}'
conf fewer s2 "findings = 3;"
m=$(mark); run fewer
is "$rc" 0 "the hook is back; a run that finds only 3 of the 6"
is "$(since "$m" "len([x for x in r if x['verdict']=='event'])")" 6 "all 6 delivered: 3 found again, 3 rebuilt from the store"
is "$(act fewer from_earlier_runs)" 3 "the record: 3 from earlier runs"
is "$(db s2 "SELECT state, count(*) FROM deliveries GROUP BY state")" "delivered|6" "the outbox: 6 delivered"

# ---------------------------------------------------------------- retry_runs, failed, requeue, --deliver
A=hook_stuck
DELIVERY="retry_runs = 2;" conf stuck s3 "findings = 2;"
fail_next '{"status": 503, "times": 1000}'
run stuck; run stuck
is "$rc" 3 "two runs against a down hook: exit 3"
like "$TMP/stuck.err" "not delivered after 2 runs (delivery.retry_runs), marked failed" "the second run gives up, and says so"
is "$(db s3 "SELECT state, count(*) FROM deliveries GROUP BY state")" "failed|2" "2 failed"
fail_next '{"clear": true}'
m=$(mark); run stuck
is "$(mark)" "$m" "a failed delivery is not retried by the next run"
is "$(act stuck held)" 2 "the record: 2 held"
like "$TMP/stuck.err" "failed for good in earlier runs" "the log points at revops outbox"
"$REVOPS" outbox -c "$TMP/stuck.conf" > "$TMP/ob2.out" 2>&1; orc=$?
is "$orc" 3 "revops outbox exits 3 while something failed"
like "$TMP/ob2.out" "2 failed, 0 pending" "and lists them"
"$REVOPS" outbox -c "$TMP/stuck.conf" --requeue > "$TMP/ob3.out" 2>&1
like "$TMP/ob3.out" "2 failed deliveries are pending again" "--requeue"
m=$(mark)
"$REVOPS" outbox -c "$TMP/stuck.conf" --deliver --dry-run > "$TMP/ob4.out" 2>&1
is "$(mark)" "$m" "--deliver --dry-run sends nothing"
is "$(grep -c '^would deliver' "$TMP/ob4.out")" 2 "and lists the 2 it would send"
"$REVOPS" outbox -c "$TMP/stuck.conf" --deliver > "$TMP/ob5.out" 2>&1; orc=$?
is "$orc" 0 "--deliver: exit 0"
like "$TMP/ob5.out" "hook_stuck (pipeline p): 2 delivered, 0 failed" "2 delivered without running the pipeline"
is "$(since "$m" "len([x for x in r if x['verdict']=='event'])")" 2 "2 new events at the hook"
"$REVOPS" outbox -c "$TMP/stuck.conf" > "$TMP/ob6.out" 2>&1; orc=$?
is "$orc" 0 "then revops outbox: nothing left (exit 0)"

# ---------------------------------------------------------------- crash safety
A=hook_crash1
# One deliver call per finding; SIGKILL right after the 17th is confirmed, before
# the outbox marks it.
conf crash1 c1 "findings = 50;" "batch = 1;"
m=$(mark); REVOPS_TEST_KILL_AFTER_DELIVERIES=17 run crash1
is "$rc" 137 "killed with SIGKILL after 17 confirmed deliveries"
is "$(since "$m" "len(r)")" 17 "the hook got 17 requests"
is "$(db c1 "SELECT state, count(*) FROM deliveries GROUP BY state ORDER BY state")" "delivered|16
pending|34" "the outbox: 16 marked, 34 pending (the 17th sent but not marked)"
m2=$(mark); run crash1
is "$rc" 0 "the next run: ok"
is "$(since "$m2" "len(r)")" 34 "it sends exactly the 34 not marked"
is "$(since "$m2" "len([x for x in r if x['verdict']=='duplicate'])")" 1 "the 17th is recognised by its Idempotency-Key"
is "$(since "$m" "len(set(key(x) for x in r if x['verdict']=='event'))")" 50 "50 distinct findings arrived as events"
is "$(since "$m" "len([x for x in r if x['verdict']=='event'])")" 50 "and none twice"
db c1 "SELECT delivery_id FROM deliveries" | sort > "$TMP/ids.txt"
is "$(since "$m" "sorted(set(key(x) for x in r)) == sorted(l.strip() for l in open('$TMP/ids.txt'))")" True \
   "the hook's keys are exactly the outbox's 50 delivery ids"
is "$(db c1 "SELECT state, count(*) FROM deliveries GROUP BY state")" "delivered|50" "the outbox: 50 delivered"
m=$(mark); run crash1
is "$(mark)" "$m" "a third run sends nothing"

# All 50 in one deliver call: the kill comes after the sink sent all of them and
# before any is marked; the next run resends all 50 and the hook dedupes each.
A=hook_crash2
conf crash2 c2 "findings = 50;"
m=$(mark); REVOPS_TEST_KILL_AFTER_DELIVERIES=1 run crash2
is "$rc" 137 "one call for all 50, killed before the first mark"
is "$(db c2 "SELECT state, count(*) FROM deliveries GROUP BY state")" "pending|50" "the outbox: 50 pending"
run crash2
is "$rc" 0 "the next run: ok"
is "$(since "$m" "len([x for x in r if x['verdict']=='event'])")" 50 "50 events in all"
is "$(since "$m" "len([x for x in r if x['verdict']=='duplicate'])")" 50 "the 50 resent are duplicates to the hook, not new events"
is "$(db c2 "SELECT state, count(*) FROM deliveries GROUP BY state")" "delivered|50" "the outbox: 50 delivered"

# ---------------------------------------------------------------- routing
A=hook_r1
conf owners r1 "findings = 6; owner_domain = \"example.com\";" "" "" \
    '{ action = "hook_r1"; owners = [ "@EXAMPLE.com" ]; }, "copy"'
m=$(mark); run owners
is "$(since "$m" "sorted((body(x).get('account_id') or body(x)['finding']['account_id']) for x in r)" | tr -d "'")" \
   "[acct-000, acct-002, acct-004]" "owners = [\"@example.com\"]: only the findings owned there"
A=hook_r2
conf owner1 r2 "findings = 6; owner_domain = \"example.com\";" "" "" \
    '{ action = "hook_r2"; owners = [ "owner-4@example.com" ]; }, { action = "hook_r2"; min_priority = "critical"; }, "copy"'
m=$(mark); run owner1
is "$(since "$m" "sorted((body(x).get('account_id') or body(x)['finding']['account_id']) for x in r)" | tr -d "'")" \
   "[acct-003, acct-004]" "two rules for one action: the owner's finding and the critical one, each once"
A=hook_r3
conf global r3 "findings = 4;" "" 'routing = ( { action = "hook_r3"; analyses = [ "A5" ]; min_priority = "high"; },
                                               { action = "hook_r3"; analyses = [ "A1" ]; } );' '"copy"'
m=$(mark); run global
is "$(since "$m" "len(r)")" 2 "top-level routing: the A5 rule routes the high and critical findings; the A1 rule none"
"$REVOPS" findings -c "$TMP/owners.conf" --account acct-002 > "$TMP/f1.out" 2>&1
like "$TMP/f1.out" "acct-002" "revops findings --account"
is "$(tail -1 "$TMP/f1.out")" "1 finding" "one finding for that account"
"$REVOPS" findings -c "$TMP/owners.conf" --priority critical --format json > "$TMP/f2.out" 2>&1
is "$(jget "$TMP/f2.out" "[(f['account_id'], f['owner'], f['json']['title']) for f in d]" | tr -d "'")" \
   "[(acct-003, None, finding 3)]" "--priority critical --format json, the finding's JSON included"
"$REVOPS" findings -c "$TMP/owners.conf" --analysis A1 > "$TMP/f3.out" 2>&1
is "$(tail -1 "$TMP/f3.out")" "0 findings" "--analysis A1: none"

# ---------------------------------------------------------------- dry runs, runs
A=hook_dry
conf dry s4 "findings = 3;"
m=$(mark); run dry --dry-run
is "$(mark)" "$m" "a dry run sends nothing"
is "$(db s4 "SELECT count(*) FROM deliveries")" 0 "and queues nothing"
run dry
is "$(db s4 "SELECT count(*) FROM deliveries")" 3 "the real run then delivers all 3"
"$REVOPS" runs -c "$TMP/dry.conf" > "$TMP/runs.out" 2>&1
like "$TMP/runs.out" "dry-run" "revops runs shows the dry run"
is "$(tail -1 "$TMP/runs.out")" "2 runs" "and both runs"
"$REVOPS" runs -c "$TMP/base.conf" --format json > "$TMP/runs.json" 2>&1
is "$(jget "$TMP/runs.json" "len(d)")" "$(db s1 "SELECT count(*) FROM runs")" "revops runs --format json: every run of that state store"
is "$(jget "$TMP/runs.json" "[(x['findings'], x['critical'], x['rows_read'], x['suppressed']) for x in d][-2:]")" \
   "[(6, 1, 5, 6), (6, 1, 5, 0)]" "each with findings by priority, rows read, suppressed"
is "$(jget "$TMP/runs.json" "sorted(d[0]['record']['steps'].keys())")" \
   "['act', 'analyse', 'gather', 'log', 'process']" "and per-step timings"
conf none nostate "findings = 1;"
"$REVOPS" runs -c "$TMP/none.conf" > "$TMP/runs2.out" 2>&1; rrc=$?
is "$rrc" 66 "revops runs before any run: exit 66"
like "$TMP/runs2.out" "no state store at $TMP/nostate/state.db yet" "and says where it looked"

conf outputs s6 "findings = 3;" "" "" '"copy"'
run outputs
"$REVOPS" findings -c "$TMP/outputs.conf" --status all > "$TMP/f4.out" 2>&1
is "$(tail -1 "$TMP/f4.out")" "3 findings" "a run with only every-run outputs still records its findings"
is "$(db s6 "SELECT count(*) FROM deliveries")" 0 "and queues no delivery for them"

# ---------------------------------------------------------------- configuration errors
A=hook
DELIVERY="suppress_days = -1;" conf bad1 s5 "findings = 1;"
"$REVOPS" check-config -c "$TMP/bad1.conf" > "$TMP/bad1.out" 2>&1; brc=$?
is "$brc" 78 "delivery.suppress_days = -1: exit 78"
like "$TMP/bad1.out" "bad1.conf:4:" "named by file:line"
like "$TMP/bad1.out" "suppress_days" "and option"
conf bad2 s5 "findings = 1;" "batch = -2;"
"$REVOPS" check-config -c "$TMP/bad2.conf" > "$TMP/bad2.out" 2>&1
like "$TMP/bad2.out" "bad2.conf:6: action 'hook': 'batch' = -2 is outside the allowed range" "a negative batch"
conf bad3 s5 "findings = 1;" "" "routing = ( { action = \"hook\"; analyses = [ \"A9\" ]; } );" '"copy"'
"$REVOPS" check-config -c "$TMP/bad3.conf" > "$TMP/bad3.out" 2>&1
like "$TMP/bad3.out" "bad3.conf:8:" "routing: an unknown analysis, by file:line"
like "$TMP/bad3.out" "A9" "naming the value"
conf bad4 s5 "findings = 1;" "" "" '{ action = "hook"; owners = [ 1 ]; }'
"$REVOPS" check-config -c "$TMP/bad4.conf" > "$TMP/bad4.out" 2>&1
like "$TMP/bad4.out" "'owners' must list non-empty strings" "owners must be strings"

done_testing
