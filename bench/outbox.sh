#!/bin/sh
# What exactly-once costs: wall time of `revops run` delivering N findings
# (default 200) to the webhook sink against tests/fake_webhook.py (loopback),
# side by side in the same run:
#   reference   outbox = false (the sink every run, no state store marks)
#   outbox      through the outbox, every routed finding in one call
#   outbox/1    through the outbox, batch = 1 (one call and one commit, with
#               fsync, per finding: the narrowest crash window)
# Each variant runs REPS times (default 3) with a fresh state directory and a
# fresh set of findings for the hook; the median is printed.
#
#   bench/outbox.sh                 (from the top of a built tree, after make check
#                                    has built the test plugins)
#   N=1000 REPS=5 bench/outbox.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
REVOPS=${REVOPS:-$top/revops}
PLUGINS=${PLUGINS:-$top/plugins/.libs}
TPLUGINS=${TPLUGINS:-$top/tests/plugins/.libs}
PYTHON=${PYTHON:-/usr/bin/python3}
N=${N:-200}
REPS=${REPS:-3}
for f in "$PLUGINS/webhook.so" "$TPLUGINS/tp_rows.so" "$TPLUGINS/tp_sum.so"; do
    [ -f "$f" ] || { echo "bench: no $f (run make check first, or set PLUGINS/TPLUGINS)" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/revops-bench.XXXXXX")
chmod 755 "$TMP"
mkdir -m 755 "$TMP/plugins"
cp "$PLUGINS/webhook.so" "$TPLUGINS/tp_rows.so" "$TPLUGINS/tp_sum.so" "$TMP/plugins/"
chmod 755 "$TMP/plugins/"*.so
mkfifo "$TMP/fake.in"
"$PYTHON" "$top/tests/fake_webhook.py" < "$TMP/fake.in" > "$TMP/fake.port" 2> "$TMP/fake.err" &
exec 9> "$TMP/fake.in"
trap 'exec 9>&-; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do grep -q PORT "$TMP/fake.port" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^PORT //p' "$TMP/fake.port")
[ -n "$PORT" ] || { echo "bench: fake_webhook.py did not start" >&2; exit 1; }
export BENCH_HOOK="http://127.0.0.1:$PORT/hooks/catch/1/bench/"

# run VARIANT REP ACTION-KEYS: one run with its own state dir and action name
# (so the hook sees new delivery ids); prints seconds.
run() {
    name="h_$1_$2"
    cat > "$TMP/$name.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state_$name";
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = { $name = { plugin = "webhook"; url = "env:BENCH_HOOK"; allow_http = true; $3 }; };
pipelines = { p = { analysis = "A5"; options = { findings = $N; };
                    inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( "$name" ); }; };
C
    s=$(date +%s.%N)
    "$REVOPS" run -c "$TMP/$name.conf" > "$TMP/$name.out" 2> "$TMP/$name.err" || { echo "bench: $1 failed: $(tail -2 "$TMP/$name.err")" >&2; exit 1; }
    e=$(date +%s.%N)
    echo "$e - $s" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "%-10s %8s %12s %14s\n" variant findings "median s" "ms/finding"
for v in reference outbox outbox1; do
    case $v in
        reference) keys="outbox = false;" ;;
        outbox) keys="" ;;
        outbox1) keys="batch = 1;" ;;
    esac
    t=$(for r in $(seq "$REPS"); do run "$v" "$r" "$keys"; done | median)
    printf "%-10s %8d %12.3f %14.2f\n" "$v" "$N" "$t" "$(echo "$t * 1000 / $N" | bc -l)"
done
