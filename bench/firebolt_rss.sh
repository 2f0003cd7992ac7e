#!/bin/sh
# Peak RSS of `revops query` streaming a Firebolt result of 250,000 and of
# 1,000,000 rows from tests/fake_firebolt.py (loopback), side by side with
# the size of the JSON_Compact body the fake sent.  If the source streams,
# the two peaks are about equal although the body grows fourfold.
#
#   bench/firebolt_rss.sh              (from the top of a built tree)
#   ROWS="250000 1000000 2000000" bench/firebolt_rss.sh
#
# Needs /usr/bin/time (Debian package "time") and /usr/bin/python3.  Uses the
# plugins in $PLUGINS (default plugins/.libs), copied to a private directory.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
REVOPS=${REVOPS:-$top/revops}
PLUGINS=${PLUGINS:-$top/plugins/.libs}
PYTHON=${PYTHON:-/usr/bin/python3}
ROWS=${ROWS:-"250000 1000000"}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
[ -f "$PLUGINS/firebolt.so" ] || { echo "bench: no $PLUGINS/firebolt.so (build first, or set PLUGINS)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/revops-bench.XXXXXX")
chmod 755 "$TMP"
mkdir -m 755 "$TMP/plugins"
cp "$PLUGINS/firebolt.so" "$TMP/plugins/" && chmod 755 "$TMP/plugins/firebolt.so"

# The fake runs until its stdin (a fifo we hold open on fd 9) closes.
mkfifo "$TMP/fake.in"
FB_CLIENT_ID=bench-id FB_CLIENT_SECRET=bench-secret \
    "$PYTHON" "$top/tests/fake_firebolt.py" < "$TMP/fake.in" > "$TMP/fake.port" 2> "$TMP/fake.err" &
fake=$!
exec 9> "$TMP/fake.in"
trap 'exec 9>&-; wait $fake 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do grep -q PORT "$TMP/fake.port" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/^PORT //p' "$TMP/fake.port")
[ -n "$port" ] || { echo "bench: the fake did not start: $(cat "$TMP/fake.err")" >&2; exit 1; }

cat > "$TMP/bench.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
timeout = 3600;
http = { timeout = 3600.0; };
sources = { fb = { plugin = "firebolt"; client_id = "env:BENCH_FB_ID"; client_secret = "env:BENCH_FB_SECRET";
                   account = "acme"; database = "revops"; engine = "analytics";
                   id_url = "http://127.0.0.1:$port/oauth/token"; api_url = "http://127.0.0.1:$port";
                   rows_per_chunk = 1000; }; };
C
export BENCH_FB_ID=bench-id BENCH_FB_SECRET=bench-secret

body_bytes() {
    "$PYTHON" -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/control/stats" % sys.argv[1]))["last_body_bytes"])' "$port"
}

echo "revops query against tests/fake_firebolt.py (loopback), rows_per_chunk 1000, $(uname -m), $(nproc) CPUs"
printf '%-10s %14s %12s %9s %s\n' rows "body bytes" "peak RSS" "seconds" "chunks"
for n in $ROWS; do
    /usr/bin/time -v "$REVOPS" query -c "$TMP/bench.conf" -s fb -q "SELECT * FROM rows($n)" --chunk 0 \
        > "$TMP/out.json" 2> "$TMP/time.txt"
    rc=$?
    if [ $rc -ne 0 ]; then echo "bench: revops query failed ($rc) for $n rows:"; tail -5 "$TMP/time.txt"; exit 1; fi
    rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$TMP/time.txt")
    wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/time.txt")
    secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
    got=$("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["total_rows"], d["total_chunks"])' "$TMP/out.json")
    set -- $got
    [ "$1" = "$n" ] || { echo "bench: expected $n rows, revops saw $1"; exit 1; }
    printf '%-10s %14s %8s KiB %9s %s\n' "$n" "$(body_bytes)" "$rss" "$secs" "$2"
done
