#!/bin/sh
# The real daemon, end to end: `revops daemon` forks scheduled runs, keeps one
# daemon per state_dir and one run per pipeline, reloads on SIGHUP (a broken
# file keeps the old schedule), stops on SIGTERM after the current step with
# nothing lost, catches up after downtime by policy, tells systemd
# READY/RELOADING/STOPPING, and serves /healthz and /metrics (parsed by
# prometheus_client's own parser).  REVOPS_TEST_CLOCK runs the daemon's clock
# 60 times faster from a fixed instant, so one real second is a minute of
# schedule.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so tp_flaky_action.so
DPIDS=""
cleanup_daemons() { for p in $DPIDS; do kill -9 "$p" 2>/dev/null; done; }
trap 'cleanup_daemons' EXIT

# conf FILE [PIPELINES...]: a config with the given pipeline groups.
conf() {
    f=$1; shift
    {
        echo "plugin_dir = \"$TMP/plugins\";"
        echo "state_dir = \"$TMP/state\";"
        echo "log = { level = \"info\"; };"
        echo "daemon = { listen = \"127.0.0.1:0\"; shutdown_grace = 20; };"
        echo "sources = { gen = { plugin = \"tp_rows\"; rows = 6; }; slow = { plugin = \"tp_rows\"; rows = 6; sleep_ms = 2500; }; };"
        echo "actions = { out = { plugin = \"tp_flaky\"; path = \"$TMP/out.txt\"; };"
        echo "            slowout = { plugin = \"tp_flaky\"; path = \"$TMP/slowout.txt\"; sleep_ms = 400; }; };"
        echo "pipelines = {"
        for p in "$@"; do echo "$p"; done
        echo "};"
    } > "$f"
}
PIPE_MINUTE='every_minute = { analysis = "A5"; schedule = "* * * * *"; inputs = { rows = { source = "gen"; query = "all"; }; };
                actions = ( { action = "out"; min_priority = "low"; } ); };'
PIPE_FIVE='every_five = { analysis = "A5"; schedule = "*/5 * * * *"; inputs = { rows = { source = "gen"; query = "all"; }; };
              actions = ( { action = "out"; min_priority = "low"; } ); };'
PIPE_SLOW='slow = { analysis = "A5"; schedule = "* * * * *"; inputs = { rows = { source = "slow"; query = "all"; }; };
            actions = ( { action = "out"; min_priority = "low"; } ); };'

# start_daemon CONF LOG [ENV...]: start it, wait for "daemon started", set DPID and HTTP_PORT.
start_daemon() {
    c=$1; l=$2; shift 2
    env REVOPS_TEST_CLOCK="${CLOCK:-2026-01-01T00:00:30Z@60}" "$@" "$REVOPS" daemon -c "$c" 2> "$l" &
    DPID=$!
    DPIDS="$DPIDS $DPID"
    for _ in $(seq 100); do grep -q "health and metrics\|daemon started" "$l" 2>/dev/null && break; sleep 0.05; done
    for _ in $(seq 40); do grep -q "health and metrics" "$l" 2>/dev/null && break; sleep 0.05; done
    HTTP_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$l" | head -1)
}
# wait_for FILE PATTERN [SECONDS]
wait_for() {
    for _ in $(seq $((${3:-10} * 20))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
# fetch URL OUTFILE: prints the HTTP status (urllib: no curl needed).
fetch() {
    "$PYTHON" - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10)
    code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
open(sys.argv[2], "wb").write(body)
print(code)
PY
}
# likere FILE ERE NAME: like, with an extended regular expression.
likere() {
    tap_n=$((tap_n + 1))
    if grep -qE -- "$2" "$1"; then echo "ok $tap_n - $3"
    else echo "not ok $tap_n - $3"; echo "#   wanted (ERE): $2"; sed 's/^/#   | /' "$1" | tail -20; tap_failed=$((tap_failed + 1)); fi
}
# metric FILE NAME LABEL=VALUE: the sample's value as prometheus_client parses it.
metric() {
    "$PYTHON" - "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
f, name, label = sys.argv[1], sys.argv[2], sys.argv[3]
k, v = label.split("=", 1)
vals = [s.value for fam in text_string_to_metric_families(open(f).read()) for s in fam.samples
        if s.name == name and s.labels.get(k) == v]
print(vals[0] if vals else "absent")
PY
}
runs_json() { "$REVOPS" runs -c "$1" -n 1000 --format json 2>/dev/null; }

# ---------------------------------------------------------------- 1. runs on schedule
conf "$TMP/a.conf" "$PIPE_MINUTE"
"$PYTHON" - "$TMP/notify.sock" > "$TMP/notify.txt" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
while True:
    try:
        m = s.recv(4096).decode()
    except Exception:
        break
    print(m, flush=True)
    if m.startswith("STOPPING"):
        break
PY
NPID=$!
for _ in $(seq 50); do [ -S "$TMP/notify.sock" ] && break; sleep 0.05; done
start_daemon "$TMP/a.conf" "$TMP/d1.log" NOTIFY_SOCKET="$TMP/notify.sock"
like "$TMP/d1.log" "daemon started (process $DPID)" "the daemon starts and names its process"
like "$TMP/d1.log" "pipeline 'every_minute': schedule '* * * * *' (UTC), next run 2026-01-01T00:01:00Z" \
    "it logs each schedule and its next fire on the test clock"
wait_for "$TMP/notify.txt" "READY=1" 5; ok $? "systemd is told READY=1"
sleep 3.6
n=$(grep -c "pipeline 'every_minute': run finished: ok" "$TMP/d1.log")
ok "$([ "$n" -ge 3 ] && [ "$n" -le 4 ]; echo $?)" "3.6 s at 60x = 3.6 minutes: 3 runs, one per minute ($n)"
runs_json "$TMP/a.conf" > "$TMP/runs1.json"
is "$("$PYTHON" -c '
import json,sys
r=json.load(open(sys.argv[1]))
print(sorted(set(x.get("trigger") for x in r)), all(x["status"]=="ok" for x in r), len(r) >= 3)' "$TMP/runs1.json")" \
    "['scheduled'] True True" "the runs are recorded in the state store with trigger 'scheduled', all ok"

# one daemon per state_dir
env REVOPS_TEST_CLOCK=2026-01-01T00:00:30Z@60 "$REVOPS" daemon -c "$TMP/a.conf" > /dev/null 2> "$TMP/second.err"
is "$?" 75 "a second daemon on the same state_dir exits 75"
like "$TMP/second.err" "state_dir $TMP/state is in use by another revops daemon (process $DPID)" \
    "and names the state_dir and the daemon holding it"

# health and metrics
fetch "http://127.0.0.1:$HTTP_PORT/healthz" "$TMP/health.json" > "$TMP/health.code"
is "$(cat "$TMP/health.code")" 200 "/healthz answers 200"
is "$(jget "$TMP/health.json" '(d["status"], d["pipelines"][0]["pipeline"], d["pipelines"][0]["schedule"], d["last_reload"]["ok"])')" \
    "('ok', 'every_minute', '* * * * *', True)" "/healthz names the pipeline, its schedule and the reload state"
fetch "http://127.0.0.1:$HTTP_PORT/metrics" "$TMP/metrics.txt" > /dev/null
"$PYTHON" - "$TMP/metrics.txt" "$TMP/runs1.json" > "$TMP/metrics.check" 2>&1 <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def total(name, **labels):
    f = fams.get(name)
    if not f: return None
    return sum(s.value for s in f.samples if s.name in (name, name + "_total") and all(s.labels.get(k) == v for k, v in labels.items()))
runs = total("revops_runs", pipeline="every_minute")
print("parsed", len(fams) > 5, "runs", runs is not None and runs >= 3)
PY
is "$(cat "$TMP/metrics.check")" "parsed True runs True" "/metrics parses as Prometheus text and counts the runs"

# ------------------------------------------------------------ 2. SIGHUP: broken, then good
cp "$TMP/a.conf" "$TMP/a.good"
printf 'pipelines = { every_minute = { analysis = "A5"; schedule = "0 25 * * *"; inputs = { rows = { source = "gen"; query = "all"; }; }; }; };\n' > "$TMP/broken.pipes"
conf "$TMP/a.conf" 'every_minute = { analysis = "A5"; schedule = "0 25 * * *"; inputs = { rows = { source = "gen"; query = "all"; }; }; };'
before=$(grep -c "run finished" "$TMP/d1.log")
kill -HUP "$DPID"
wait_for "$TMP/d1.log" "reload refused" 5; ok $? "SIGHUP with a broken file: the reload is refused"
likere "$TMP/d1.log" "reload: $TMP/a.conf:[0-9]+: pipeline 'every_minute': 'schedule': hour 25 is out of range 0-23" \
    "the log names the file, line and error"
like "$TMP/d1.log" "the configuration loaded before keeps running" "and says the old configuration keeps running"
sleep 2.2
after=$(grep -c "run finished" "$TMP/d1.log")
ok "$([ "$after" -gt "$before" ]; echo $?)" "the old schedule keeps running ($before -> $after runs)"
fetch "http://127.0.0.1:$HTTP_PORT/healthz" "$TMP/health2.json" > /dev/null
is "$(jget "$TMP/health2.json" 'd["last_reload"]["ok"]')" "False" "/healthz reports the failed reload"
kill -0 "$DPID"; ok $? "the daemon is still alive"

conf "$TMP/a.conf" "$PIPE_FIVE"
kill -HUP "$DPID"
wait_for "$TMP/d1.log" "reloaded $TMP/a.conf" 5; ok $? "SIGHUP with a good file reloads it"
like "$TMP/d1.log" "pipeline 'every_five': schedule '*/5 * * * *' (UTC), next run" "the new schedule is logged"
wait_for "$TMP/notify.txt" "RELOADING=1" 2; ok $? "systemd is told RELOADING=1"
mark=$(wc -l < "$TMP/d1.log")
sleep 6
tail -n +"$mark" "$TMP/d1.log" > "$TMP/d1.after"
unlike "$TMP/d1.after" "pipeline 'every_minute': run started" "every_minute no longer runs"
likere "$TMP/d1.after" "pipeline 'every_five': run started \\(process [0-9]+\\) for 2026-01-01T00:[0-9][05]:00Z" \
    "every_five runs at a multiple of five minutes"
fetch "http://127.0.0.1:$HTTP_PORT/healthz" "$TMP/health3.json" > /dev/null
is "$(jget "$TMP/health3.json" '(d["last_reload"]["ok"], [p["pipeline"] for p in d["pipelines"]])')" "(True, ['every_five'])" \
    "/healthz shows the new schedule"
fetch "http://127.0.0.1:$HTTP_PORT/metrics" "$TMP/metrics2.txt" > /dev/null
is "$(metric "$TMP/metrics2.txt" revops_config_reloads_total result=failed) $(metric "$TMP/metrics2.txt" revops_config_reloads_total result=ok)" \
    "1.0 1.0" "/metrics counts one failed and one good reload"
ok "$([ "$(metric "$TMP/metrics2.txt" revops_next_fire_timestamp_seconds pipeline=every_five)" != absent ]; echo $?)" \
    "/metrics has the next fire time of the new pipeline"

# ------------------------------------------------------------------ 3. SIGTERM
kill -TERM "$DPID"
wait "$DPID"; is "$?" 0 "SIGTERM: the daemon exits 0"
like "$TMP/d1.log" "daemon stopped" "and says so"
wait_for "$TMP/notify.txt" "STOPPING=1" 2; ok $? "systemd is told STOPPING=1"
wait "$NPID" 2>/dev/null

# ----------------------------------------- 4. never two runs of one pipeline at once
rm -rf "$TMP/state" "$TMP/out.txt"
conf "$TMP/b.conf" "$PIPE_SLOW"
start_daemon "$TMP/b.conf" "$TMP/d2.log"
sleep 5.5
like "$TMP/d2.log" "pipeline 'slow': still running; this run is skipped" "a fire while the slow run is in progress is skipped"
# a manual run of the same pipeline while the daemon's is in progress
n0=$(grep -c "pipeline 'slow': run started" "$TMP/d2.log")
for _ in $(seq 100); do [ "$(grep -c "pipeline 'slow': run started" "$TMP/d2.log")" -gt "$n0" ] && break; sleep 0.05; done
"$REVOPS" run -c "$TMP/b.conf" -p slow > /dev/null 2> "$TMP/manual.err"
code=$?
is "$code" 75 "a manual run of a pipeline the daemon is running exits 75"
likere "$TMP/manual.err" "pipeline 'slow' is already running \\(process [0-9]+\\) on state_dir $TMP/state" "and names the process"
fetch "http://127.0.0.1:$HTTP_PORT/metrics" "$TMP/metrics3.txt" > /dev/null
ok "$([ "$(metric "$TMP/metrics3.txt" revops_scheduled_skips_total pipeline=slow | cut -d. -f1)" -ge 1 ]; echo $?)" \
    "/metrics counts the skipped fires"
kill -TERM "$DPID"; wait "$DPID"
runs_json "$TMP/b.conf" > "$TMP/runs2.json"
is "$("$PYTHON" -c '
import json,sys
r=sorted(json.load(open(sys.argv[1])), key=lambda x: x["started_at"])
r=[x for x in r if x.get("trigger")=="scheduled"]
print(len(r) >= 2, all(a["started_at"] + a["seconds"] <= b["started_at"] + 0.01 for a, b in zip(r, r[1:])))' "$TMP/runs2.json")" \
    "True True" "the slow pipeline's runs never overlap"

# ------------------------------------------------ 5. SIGTERM in the middle of a run
# (a) during act: the step finishes, every finding is delivered, exit 0
rm -rf "$TMP/state" "$TMP/slowout.txt"
rm -f "$TMP/dry.json"
conf "$TMP/c.conf" 'acting = { analysis = "A5"; schedule = "* * * * *"; options = { findings = 6; }; inputs = { rows = { source = "gen"; query = "all"; }; };
                 actions = ( { action = "slowout"; min_priority = "low"; } ); };'
want=6
start_daemon "$TMP/c.conf" "$TMP/d3.log"
wait_for "$TMP/slowout.txt" "." 10
kill -TERM "$DPID"
wait "$DPID"; is "$?" 0 "SIGTERM while a run delivers: exit 0"
is "$(wc -l < "$TMP/slowout.txt" | tr -d ' ')" "$want" "the act step finished: all $want findings were delivered"
"$REVOPS" outbox -c "$TMP/c.conf" > "$TMP/ob.txt" 2>&1
is "$?" 0 "nothing is pending or failed in the outbox"
runs_json "$TMP/c.conf" > "$TMP/runs3.json"
is "$(jget "$TMP/runs3.json" '[x["status"] for x in d if x["trigger"] == "scheduled"]')" "['ok']" "the run was recorded as ok"

# (b) during gather: the run stops before analyse, is recorded, nothing is lost
rm -rf "$TMP/state" "$TMP/out.txt"
conf "$TMP/e.conf" "$PIPE_SLOW"
start_daemon "$TMP/e.conf" "$TMP/d4.log"
wait_for "$TMP/d4.log" "pipeline 'slow': run started" 5
sleep 0.5
kill -TERM "$DPID"
wait "$DPID"; is "$?" 0 "SIGTERM while a run gathers: exit 0 after the gather step"
like "$TMP/d4.log" "run interrupted: stopped by a signal before the analyse step; nothing of this run was delivered" \
    "the run stops after its current step and says what happened"
like "$TMP/d4.log" "pipeline 'slow': run finished: interrupted (exit 5)" "the daemon logs the interrupted run"
ok "$([ ! -s "$TMP/out.txt" ]; echo $?)" "nothing was delivered"
runs_json "$TMP/e.conf" > "$TMP/runs4.json"
is "$(jget "$TMP/runs4.json" '[x["status"] for x in d]')" "['interrupted']" "the run is recorded as interrupted"
"$REVOPS" run -c "$TMP/e.conf" > /dev/null 2>&1; is "$?" 0 "the next run succeeds"
is "$(wc -l < "$TMP/out.txt" | tr -d ' ')" 4 "and delivers all 4 findings: nothing was lost"

# -------------------------------------------------------- 6. missed runs after downtime
rm -rf "$TMP/state" "$TMP/out.txt"
conf "$TMP/f.conf" 'hourly = { analysis = "A5"; schedule = "0 * * * *"; missed = "run_once"; inputs = { rows = { source = "gen"; query = "all"; }; };
                 actions = ( { action = "out"; min_priority = "low"; } ); };'
CLOCK=2026-06-01T00:59:58Z@60 start_daemon "$TMP/f.conf" "$TMP/d5.log"
wait_for "$TMP/d5.log" "pipeline 'hourly': run finished" 5; ok $? "the 01:00 run happens"
kill -TERM "$DPID"; wait "$DPID"
# the daemon comes back three hours later: 02:00, 03:00 and 04:00 were missed
CLOCK=2026-06-01T04:30:00Z@1 start_daemon "$TMP/f.conf" "$TMP/d6.log"
wait_for "$TMP/d6.log" "catching up after downtime" 5; ok $? "missed = run_once: one catch-up run at start"
likere "$TMP/d6.log" "pipeline 'hourly': run started \\(process [0-9]+\\) for 2026-06-01T04:00:00Z, catching up" \
    "for the latest missed time"
wait_for "$TMP/d6.log" "pipeline 'hourly': run finished" 5
kill -TERM "$DPID"; wait "$DPID"
is "$(runs_json "$TMP/f.conf" | "$PYTHON" -c 'import json,sys; print(sorted(x.get("trigger") for x in json.load(sys.stdin)))')" \
    "['catch-up', 'scheduled']" "the state store has the scheduled run and the catch-up run"
sed -i 's/missed = "run_once"/missed = "skip"/' "$TMP/f.conf"
CLOCK=2026-06-01T09:30:00Z@1 start_daemon "$TMP/f.conf" "$TMP/d7.log"
like "$TMP/d7.log" "pipeline 'hourly' missed 5 runs while the daemon was down" "missed = skip: the missed runs are counted"
fetch "http://127.0.0.1:$HTTP_PORT/metrics" "$TMP/metrics4.txt" > /dev/null
is "$(metric "$TMP/metrics4.txt" revops_missed_fires_total pipeline=hourly)" "5.0" "and /metrics has them"
like "$TMP/d7.log" "next run 2026-06-01T10:00:00Z" "and the next run is the next hour"
sleep 1
unlike "$TMP/d7.log" "run started" "nothing runs at start"
kill -TERM "$DPID"; wait "$DPID"

# ------------------------------------------- 6b. max_running: a fire waits for a slot
rm -rf "$TMP/state"
conf "$TMP/m.conf" "$PIPE_SLOW" 'slow2 = { analysis = "A5"; schedule = "* * * * *"; inputs = { rows = { source = "slow"; query = "all"; }; }; };'
sed -i 's/shutdown_grace = 20;/shutdown_grace = 20; max_running = 1;/' "$TMP/m.conf"
start_daemon "$TMP/m.conf" "$TMP/dm.log"
sleep 6
kill -TERM "$DPID"; wait "$DPID"
like "$TMP/dm.log" "pipeline 'slow2': waiting for a free slot (daemon.max_running = 1 runs at once)" \
    "max_running = 1: the second pipeline's fire waits for the slot"
runs_json "$TMP/m.conf" > "$TMP/runsm.json"
is "$("$PYTHON" -c '
import json,sys
r=sorted(json.load(open(sys.argv[1])), key=lambda x: x["started_at"])
print(sorted(set(x["pipeline"] for x in r)), all(a["started_at"] + a["seconds"] <= b["started_at"] + 0.01 for a, b in zip(r, r[1:])))' "$TMP/runsm.json")" \
    "['slow', 'slow2'] True" "both pipelines ran, one at a time"

# ------------------------------------------------------------- 7. JSON log lines
rm -rf "$TMP/state"
conf "$TMP/g.conf" "$PIPE_MINUTE"
sed -i 's/log = { level = "info"; };/log = { level = "info"; format = "json"; };/' "$TMP/g.conf"
start_daemon "$TMP/g.conf" "$TMP/d8.log"
wait_for "$TMP/d8.log" "run finished: ok" 5
kill -TERM "$DPID"; wait "$DPID"
"$PYTHON" - "$TMP/d8.log" > "$TMP/json.check" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
run = [l for l in lines if l.get("pipeline") == "every_minute" and l.get("step") == "gather" and "plugin" in l]
print(len(lines) > 5, bool(run) and all(l.get("session", "").endswith("_every_minute") for l in run),
      bool(run) and run[0]["plugin"].startswith("source:tp_rows:"))
PY
is "$(cat "$TMP/json.check")" "True True True" \
    "log.format = json: every line is JSON; a run's lines carry session, pipeline, step and plugin instance"

# --------------------------------------------------------------- 8. config errors
conf "$TMP/h.conf" 'p = { analysis = "A5"; schedule = "0 9 * * *"; timezone = "Mars/Olympus"; inputs = { rows = { source = "gen"; query = "all"; }; }; };'
"$REVOPS" daemon -c "$TMP/h.conf" 2> "$TMP/h.err"; is "$?" 78 "an unknown timezone is a config error (78)"
likere "$TMP/h.err" "$TMP/h.conf:[0-9]+: pipeline 'p': 'timezone': unknown time zone 'Mars/Olympus'" "named with file and line"
"$REVOPS" daemon -c "$TMP/h.conf" --bogus 2> /dev/null; is "$?" 64 "a bad option is a usage error (64)"
done_testing
