#!/bin/sh
# /metrics and /healthz (core/metrics.c, core/httpd.c): run records from the
# real `revops run --format json` (the demo, a narrated run against the fake
# Anthropic API with one HTTP retry, a failing source, retried and failed
# deliveries) fed into the registry by tests/metrics_serve, served over
# libmicrohttpd on 127.0.0.1:0 from a single-threaded poll loop, fetched with
# curl and read with the Prometheus client's parser; every value must equal
# what the records say.  Then the HTTP side: status codes, HEAD, 404, 405 with
# Allow, loopback only, errors naming the address, SIGTERM, valgrind.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/model_fakes.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
SERVE="$top_builddir/tests/metrics_serve"
CHECK="$top_srcdir/tests/metrics_check.py"

# ---------------------------------------------------------------- records
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
demo_conf "$db" 1000 "$TMP/findings.jsonl" "$TMP/demo.conf"
sed -i "s|path = \"-\";|path = \"$TMP/report.txt\";|" "$TMP/demo.conf"
"$REVOPS" run -c "$TMP/demo.conf" --format json > "$TMP/rec_all.json" 2> "$TMP/err"
is "$?" 0 "the demo's six pipelines run"
"$REVOPS" run -c "$TMP/demo.conf" -p at_risk --format json > "$TMP/rec_at_risk.json" 2> "$TMP/err"
is "$?" 0 "at_risk runs a second time"

# A narrated run: the fake answers 503 once (one HTTP retry), then the narrative with known usage.
export REVOPS_TEST_PSEUDONYM_KEY="metrics-test-key"
printf '{"repeat_last": true, "turns": [{"status": 503, "error": "busy"}, {"narrate": true, "usage": {"input": 1234, "output": 56}}]}\n' > "$TMP/s.json"
model_fake anthropic "$TMP/s.json" "$TMP/model.rec"
cat > "$TMP/narrated.conf" <<C
state_dir = "$TMP/state";
retry = { interval = 0.05; max_attempts = 3; };
query_library = "queries.conf";
classification = {
  default = "RESTRICTED";
  key = "env:REVOPS_TEST_PSEUDONYM_KEY";
  findings = { account_id = "INTERNAL"; account_name = "CONFIDENTIAL"; opportunity_id = "INTERNAL";
               text = "INTERNAL"; evidence = "INTERNAL"; };
};
models = { $MODEL_CONF };
sources = { warehouse = { plugin = "sqlite"; database = "$db";
  fields = { sf_account_id = "INTERNAL"; sf_account_name = "CONFIDENTIAL"; n = "PUBLIC"; c = "PUBLIC"; }; }; };
actions = { out = { plugin = "file"; path = "$TMP/narrated.jsonl"; }; };
pipelines = { at_risk_narrated = {
  analysis = "A1";
  options = { as_of = "2026-11-01"; };
  inputs = {
    accounts = { source = "warehouse"; named_query = "a1_accounts"; };
    opportunities = { source = "warehouse"; named_query = "a1_opportunities"; };
    usage = { source = "warehouse"; named_query = "a1_usage"; };
  };
  actions = ( { action = "out"; min_priority = "low"; } );
  narrate = { model = "m"; batch = 100; };
}; };
C
"$REVOPS" run -c "$TMP/narrated.conf" --format json > "$TMP/rec_narrated.json" 2> "$TMP/err"
is "$?" 0 "a narrated run succeeds after the model's 503"

# Test plugins: a source that fails for good (status failed, 3 attempts), one that
# fails twice then works, a sink that needs a retry, a sink that always fails.
plugin_dir_with tp_rows.so tp_sum.so tp_flaky_action.so
tpconf() {  # tpconf NAME ROWS FAIL_TIMES ACTION-OPTIONS
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/tpstate";
retry = { interval = 0.01; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = $2; fail_times = $3; rows_per_chunk = 1000; }; };
actions = { sink = { plugin = "tp_flaky"; outbox = false; path = "$TMP/$1.deliveries"; $4 }; };
pipelines = { $1 = { analysis = "A5"; inputs = { rows = { source = "gen"; query = "all"; }; };
                     actions = ( { action = "sink"; } ); }; };
C
    "$REVOPS" run -c "$TMP/$1.conf" --format json > "$TMP/rec_$1.json" 2> "$TMP/$1.err"
}
tpconf giveup 1 5 ""; is "$?" 1 "a source that keeps failing before any row: the run fails"
tpconf lost 2500 5 ""; is "$?" 4 "a source that fails after rows arrived: partial"
tpconf flaky 2500 2 "fail_first = true;"; is "$?" 0 "a source that fails twice and a sink that needs a retry: ok"
tpconf broken 2500 0 "fail_always = true;"; is "$?" 3 "a sink that always fails: delivery_failed"
# Through the outbox: a delivery still failing (RETRY) on its last try stays pending for a
# later run; one failed for good (ERROR) is held from then on.
tpconf pending 2500 0 "fail_first = true;"
sed -i -e 's/outbox = false; //' -e 's/max_attempts = 3;/max_attempts = 1;/' "$TMP/pending.conf"
"$REVOPS" run -c "$TMP/pending.conf" --format json > "$TMP/rec_pending.json" 2> "$TMP/pending.err"
is "$?" 3 "through the outbox, a RETRY on the last try: delivery_failed (pending)"
tpconf held 2500 0 "fail_always = true;"
sed -i 's/outbox = false; //' "$TMP/held.conf"
"$REVOPS" run -c "$TMP/held.conf" --format json > "$TMP/rec_held1.json" 2> "$TMP/held.err"
"$REVOPS" run -c "$TMP/held.conf" --format json > "$TMP/rec_held2.json" 2> "$TMP/held.err"
is "$?" 0 "through the outbox, failed for good, run again: held (and exit 0)"
RECS="$TMP/rec_all.json $TMP/rec_at_risk.json $TMP/rec_narrated.json $TMP/rec_giveup.json $TMP/rec_lost.json $TMP/rec_flaky.json $TMP/rec_broken.json $TMP/rec_pending.json $TMP/rec_held1.json $TMP/rec_held2.json"
# shellcheck disable=SC2086
"$PYTHON" "$CHECK" coverage $RECS > "$TMP/coverage"
is "$(cat "$TMP/coverage")" "statuses ['delivery_failed', 'failed', 'ok', 'partial']
input retries 6
partial inputs 1
delivery retries 4
failed deliveries 8
pending deliveries 4
held deliveries 4
model tokens in 1234
model http retries 1" "the records cover every status, input/model/delivery retries, a partial input, failures and tokens"

# ---------------------------------------------------------------- serve
# start NAME ARGS...: metrics_serve in the background; sets PORT and PID.
start() {
    name=$1; shift
    "$SERVE" "$@" > "$TMP/$name.port" 2> "$TMP/$name.err" &
    PID=$!
    for _ in $(seq 200); do
        grep -q PORT "$TMP/$name.port" 2>/dev/null && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(sed -n 's/^PORT //p' "$TMP/$name.port")
}
WEIRD='we"ird\name
x'
# shellcheck disable=SC2086
start main --pipeline at_risk 1800000000 1 --pipeline lost_reasons 1800003600 0 \
    --inc revops_config_reloads_total result ok --inc revops_config_reloads_total result failed \
    --inc revops_config_reloads_total result ok --inc revops_scheduled_skips_total pipeline "$WEIRD" $RECS
[ -n "$PORT" ] || { echo "Bail out! metrics_serve did not start: $(cat "$TMP/main.err")"; exit 1; }
MAIN_PID=$PID
URL="http://127.0.0.1:$PORT"

code=$(curl -s -o "$TMP/metrics" -D "$TMP/metrics.h" -w '%{http_code}' "$URL/metrics")
is "$code" 200 "GET /metrics: 200"
is "$(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' "$TMP/metrics.h" | tr -d '\r')" "text/plain; version=0.0.4; charset=utf-8" \
   "the Prometheus text format's content type"
"$PYTHON" "$CHECK" check "$TMP/metrics" $RECS > "$TMP/check" 2> "$TMP/check.err"
is "$?" 0 "the Prometheus client's parser reads it$(head -c 300 "$TMP/check.err")"
while IFS="$(printf '\t')" read -r name got want; do
    is "$got" "$want" "$name: as the records say"
done < "$TMP/check"
"$PYTHON" "$CHECK" dump "$TMP/metrics" > "$TMP/samples"
like "$TMP/samples" 'revops_next_fire_timestamp_seconds {"pipeline": "at_risk"} 1800000000.0' "next fire gauge"
like "$TMP/samples" 'revops_pipeline_running {"pipeline": "at_risk"} 1.0' "running gauge (1)"
like "$TMP/samples" 'revops_pipeline_running {"pipeline": "lost_reasons"} 0.0' "running gauge (0)"
like "$TMP/samples" 'revops_config_reloads_total {"result": "ok"} 2.0' "reloads ok counted"
like "$TMP/samples" 'revops_config_reloads_total {"result": "failed"} 1.0' "reloads failed counted"
like "$TMP/samples" 'revops_scheduled_skips_total {"pipeline": "we\"ird\\name\nx"} 1.0' \
     "a label value with a quote, a backslash and a newline reads back exactly"
like "$TMP/samples" "revops_build_info {\"version\": \"$("$REVOPS" --version | sed 's/^revops \([^ ]*\).*/\1/')\"} 1.0" "build info names the version"
start_t=$(sed -n 's/^process_start_time_seconds {} //p' "$TMP/samples")
now=$(date +%s)
ok "$("$PYTHON" -c "import sys; sys.exit(0 if $now - 120 < $start_t <= $now + 1 else 1)"; echo $?)" "process start time is now ($start_t)"
# Stable order: a second scrape lists the same samples in the same order.
curl -s -o "$TMP/metrics2" "$URL/metrics"
ok "$(cmp -s "$TMP/metrics" "$TMP/metrics2"; echo $?)" "a second scrape is byte-identical (stable order, nothing changed)"

code=$(curl -s -o "$TMP/health" -D "$TMP/health.h" -w '%{http_code}' "$URL/healthz")
is "$code" 200 "GET /healthz: the health callback's status"
is "$(cat "$TMP/health")" '{"status":"ok","records":15}' "GET /healthz: the callback's body"
like "$TMP/health.h" "Content-Type: application/json" "healthz is JSON"

code=$(curl -s -I -o "$TMP/head.h" -w '%{http_code}' "$URL/metrics")
is "$code" 200 "HEAD /metrics: 200"
is "$(sed -n 's/^[Cc]ontent-[Ll]ength: *//p' "$TMP/head.h" | tr -d '\r')" "$(wc -c < "$TMP/metrics" | tr -d ' ')" \
   "HEAD: the Content-Length of the GET body"
is "$(curl -s -X HEAD --max-time 2 "$URL/metrics" 2>/dev/null | wc -c | tr -d ' ')" 0 "HEAD: no body"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" 404 "GET /: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics/extra")" 404 "GET /metrics/extra: 404"
code=$(curl -s -o /dev/null -D "$TMP/post.h" -w '%{http_code}' -X POST --data 'x=1' "$URL/metrics")
is "$code" 405 "POST /metrics: 405"
like "$TMP/post.h" "Allow: GET, HEAD" "405 says which methods are allowed"
is "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/healthz")" 405 "DELETE /healthz: 405"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics?x=1")" 200 "a query string is ignored"

# Loopback only: the listening socket in /proc/net/tcp is 127.0.0.1 (0100007F), not 0.0.0.0.
hexport=$(printf '%04X' "$PORT")
is "$(awk -v p=":$hexport" '$2 ~ p"$" && $4 == "0A" {print $2}' /proc/net/tcp)" "0100007F:$hexport" \
   "bound to 127.0.0.1:$PORT only (/proc/net/tcp)"

test ! -s "$TMP/main.err"; ok $? "the server logged nothing while serving$(head -c 300 "$TMP/main.err")"
# Errors name the address (timeout: a server that wrongly starts must not hang the test).
timeout 10 "$SERVE" --listen "127.0.0.1:$PORT" > /dev/null 2> "$TMP/inuse.err"
is "$?" 1 "a port in use: exit 1"
like "$TMP/inuse.err" "listen '127.0.0.1:$PORT': cannot listen on 127.0.0.1 port $PORT: Address already in use" "the error names the address"
timeout 10 "$SERVE" --listen "192.0.2.1:0" > /dev/null 2> "$TMP/badhost.err"
like "$TMP/badhost.err" "listen '192.0.2.1:0': cannot listen on 192.0.2.1 port 0: Cannot assign requested address" \
     "an address not of this machine: named"
timeout 10 "$SERVE" --listen "localhost:http" > /dev/null 2> "$TMP/badport.err"
like "$TMP/badport.err" "listen: 'localhost:http' must be PORT or HOST:PORT with a port from 1 to 65535" "a bad port: listen_parse's message"

kill -TERM "$MAIN_PID"; wait "$MAIN_PID"
is "$?" 0 "SIGTERM: the server stops and exits 0"
curl -s -o /dev/null --max-time 2 "$URL/healthz"
ok "$([ $? -ne 0 ]; echo $?)" "and no longer answers"

# A bare port is loopback; an unhealthy check's status goes through.
start bare --listen 0 --health-status 503
is "$(curl -s -o "$TMP/h503" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" 503 "a bare port listens on 127.0.0.1; /healthz: 503 from the callback"
is "$(cat "$TMP/h503")" '{"status":"degraded","records":0}' "with its body"
kill -TERM "$PID"; wait "$PID"
start v6 --listen "[::1]:0"
if [ -n "$PORT" ]; then
    is "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$PORT/healthz")" 200 "[::1]:0 serves on IPv6 loopback"
    hexport=$(printf '%04X' "$PORT")
    is "$(awk -v p=":$hexport" '$2 ~ p"$" && $4 == "0A" {print $2}' /proc/net/tcp6)" \
       "00000000000000000000000001000000:$hexport" "bound to [::1] only (/proc/net/tcp6)"
    kill -TERM "$PID"; wait "$PID"
else
    echo "ok $((tap_n += 1)) # SKIP no IPv6 loopback here: $(cat "$TMP/v6.err")"
fi

# A forked child (a pipeline run) that called httpd_close_after_fork() does not keep the
# listening socket: once the parent is gone (SIGKILL: no MHD_stop_daemon, which would shut the
# socket down for every holder), the port is free although the child lives on.
start forked --fork-child
CHILD=$(sed -n 's/^CHILD //p' "$TMP/forked.port")
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" 200 "with a forked child: the parent serves"
FORKED_PORT=$PORT
kill -KILL "$PID"; wait "$PID" 2>/dev/null
kill -0 "$CHILD" 2>/dev/null; ok $? "the child is still alive"
start again --listen "127.0.0.1:$FORKED_PORT"
is "$PORT" "$FORKED_PORT" "the parent gone, the port is free for a new server $(cat "$TMP/again.err")"
kill -TERM "$PID" "$CHILD" 2>/dev/null; wait "$PID"

# ---------------------------------------------------------------- valgrind
if ! command -v valgrind > /dev/null; then
    echo "ok $((tap_n += 1)) # SKIP valgrind not installed"
elif grep -q __asan_init "$SERVE" 2>/dev/null; then
    echo "ok $((tap_n += 1)) # SKIP built with sanitizers (ASan checks leaks there)"
else
    # shellcheck disable=SC2086
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 --log-file="$TMP/vg.log" \
        "$SERVE" --inc revops_scheduled_skips_total pipeline p $RECS > "$TMP/vg.port" 2>> "$TMP/vg.err" &
    VG=$!
    for _ in $(seq 400); do grep -q PORT "$TMP/vg.port" 2>/dev/null && break; sleep 0.05; done
    vp=$(sed -n 's/^PORT //p' "$TMP/vg.port")
    for u in metrics healthz nope; do curl -s -o /dev/null --max-time 20 "http://127.0.0.1:$vp/$u"; done
    curl -s -o /dev/null --max-time 20 -X POST --data x "http://127.0.0.1:$vp/metrics"
    curl -s -o /dev/null --max-time 20 -I "http://127.0.0.1:$vp/metrics"
    kill -TERM "$VG"; wait "$VG"
    is "$?" 0 "valgrind: no leak, no invalid access over every endpoint$(head -c 600 "$TMP/vg.log")"
fi

"$SERVE" --bench 100 > "$TMP/bench"
is "$?" 0 "bench runs"
echo "# $(cat "$TMP/bench")"
done_testing
