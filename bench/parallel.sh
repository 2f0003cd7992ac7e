#!/bin/sh
# Controlled parallelism side by side: the narrative of N findings (default
# 45), one model call each (narrate batch = 1), against tests/fake_anthropic.py
# answering every call after LATENCY seconds (default 0.05), at 1 x 1, 2 x 2
# and 3 x 5 (the spec's); the median of REPS runs (default 3) of the
# narrative's own seconds (the run record's model.seconds) and the peak the
# fake saw in flight.
#
#   bench/parallel.sh              (from the top of a built tree, after make check)
#   N=90 LATENCY=0.2 REPS=5 bench/parallel.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
REVOPS=${REVOPS:-$top/revops}
PLUGINS=${PLUGINS:-$top/plugins/.libs}
TPLUGINS=${TPLUGINS:-$top/tests/plugins/.libs}
PYTHON=${PYTHON:-/usr/bin/python3}
N=${N:-45}
LATENCY=${LATENCY:-0.05}
REPS=${REPS:-3}
for f in "$PLUGINS/anthropic.so" "$PLUGINS/file.so" "$TPLUGINS/tp_rows.so" "$TPLUGINS/tp_json_findings.so"; do
    [ -f "$f" ] || { echo "bench: no $f (run make check first, or set PLUGINS/TPLUGINS)" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/revops-bench.XXXXXX")
chmod 755 "$TMP"
trap 'exec 9>&-; rm -rf "$TMP"' EXIT
mkdir -m 755 "$TMP/plugins"
cp "$PLUGINS/anthropic.so" "$PLUGINS/file.so" "$TPLUGINS/tp_rows.so" "$TPLUGINS/tp_json_findings.so" "$TMP/plugins/"
chmod 755 "$TMP/plugins/"*.so
"$PYTHON" - "$TMP/findings.jsonl" "$N" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for k in range(int(sys.argv[2])):
        f.write(json.dumps({"account_id": "001A%05d" % k, "account_name": "Customer %d" % k, "priority": "high",
                            "score": 0.5, "title": "Customer %d is at risk" % k}) + "\n")
PY
printf '{"repeat_last": true, "turns": [{"narrate": true}]}\n' > "$TMP/script.json"
mkfifo "$TMP/fake.in"
FAKE_MODEL_LATENCY=$LATENCY "$PYTHON" "$top/tests/fake_anthropic.py" --script "$TMP/script.json" --record "$TMP/rec" \
    --api-key bench-key < "$TMP/fake.in" > "$TMP/port" 2> "$TMP/fake.err" &
exec 9> "$TMP/fake.in"
for _ in $(seq 100); do grep -q PORT "$TMP/port" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/^PORT //p' "$TMP/port")
[ -n "$port" ] || { echo "bench: the fake did not start: $(cat "$TMP/fake.err")" >&2; exit 1; }
export BENCH_MODEL_KEY=bench-key
printf '| bound | narrative seconds (median of %s) | ideal | peak in flight |\n|---|---|---|---|\n' "$REPS"
for bound in "1 1" "2 2" "3 5"; do
    set -- $bound
    cat > "$TMP/c.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
classification = { default = "INTERNAL"; };
sources = { gen = { plugin = "tp_rows"; rows = 1; }; };
actions = { out = { plugin = "file"; path = "$TMP/out.jsonl"; }; };
models = { m = { plugin = "anthropic"; api_key = "env:BENCH_MODEL_KEY"; base_url = "http://127.0.0.1:$port"; }; };
pipelines = { p = { analysis = "A5"; analysis_plugin = "tp_json_findings"; options = { path = "$TMP/findings.jsonl"; };
  inputs = { rows = { source = "gen"; query = "all"; }; };
  actions = ( { action = "out"; min_priority = "low"; } );
  narrate = { model = "m"; batch = 1; }; parallelism = { batches = $1; concurrency = $2; }; }; };
C
    secs=""
    for _ in $(seq "$REPS"); do
        curl -s -X POST "http://127.0.0.1:$port/peak/reset" > /dev/null
        "$REVOPS" run -c "$TMP/c.conf" --format json > "$TMP/r.json" 2> "$TMP/r.err" || { cat "$TMP/r.err" >&2; exit 1; }
        secs="$secs $("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["model"]["seconds"])' "$TMP/r.json")"
    done
    peak=$(curl -s "http://127.0.0.1:$port/peak" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["peak"])')
    "$PYTHON" - "$1" "$2" "$N" "$LATENCY" "$peak" $secs <<'PY'
import math, statistics, sys
b, c, n, lat, peak = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
secs = [float(x) for x in sys.argv[6:]]
print("| %d x %d | %.3f | %.3f | %s |" % (b, c, statistics.median(secs), math.ceil(n / (b * c)) * lat, peak))
PY
done
