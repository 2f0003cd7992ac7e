#!/bin/sh
# Peak RSS of the postgres source streaming large results, at two sizes.
#
#   bench/postgres_rss.sh [ROWS ...]        (default: 250000 1000000)
#
# Starts a throwaway PostgreSQL server (tests/pg_server.sh), then for each
# size streams a generate_series result of five columns (int8 id, text,
# numeric, date, bool) through
#   - `revops query -s pg -q ... --chunk 0`  (the chunk contract; only chunk 0 is kept),
#   - `revops run` of a pipeline feeding the tp_sum test analysis (A5), and
#   - `psql -c 'COPY (...) TO STDOUT' > /dev/null`, as a reference,
# and prints the peak RSS ("Maximum resident set size" of /usr/bin/time -v)
# and wall time of each, side by side.  Streaming works when the revops
# figures do not grow with the row count.  Each run is also checked: the
# query reports total_rows = ROWS and tp_sum saw ROWS rows.
#
# Environment: top_builddir (default: this script's parent directory) with
# ./revops, plugins/.libs/postgres.so and tests/plugins/.libs/tp_sum.so
# built (`make -j2 check` builds the test plugins); PLUGINS to take the
# plugins from elsewhere; FETCH_ROWS (default 1000) and ROWS_PER_CHUNK
# (default 1000).  Needs PostgreSQL's server binaries (Debian: postgresql),
# /usr/bin/time (Debian: time) and python3.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(dirname "$here")}"
: "${top_srcdir:=$(dirname "$here")}"
: "${REVOPS:=$top_builddir/revops}"
: "${PLUGINS:=$top_builddir/plugins/.libs}"
: "${FETCH_ROWS:=1000}"
: "${ROWS_PER_CHUNK:=1000}"
PYTHON=${PYTHON:-/usr/bin/python3}
[ $# -gt 0 ] || set -- 250000 1000000

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (Debian package: time)" >&2; exit 1; }
[ -x "$REVOPS" ] || { echo "bench: $REVOPS is not built" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/revops-bench.XXXXXX")
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "$top_srcdir/tests/pg_server.sh"
pg_start || { echo "bench: $PG_WHY" >&2; exit 1; }

pd="$TMP/plugins"
mkdir "$pd"
chmod 755 "$pd"
for m in postgres.so tp_sum.so; do
    for d in "$PLUGINS" "$top_builddir/tests/plugins/.libs"; do
        if [ -f "$d/$m" ]; then cp "$d/$m" "$pd/"; break; fi
    done
    [ -f "$pd/$m" ] || { echo "bench: $m not found in $PLUGINS or tests/plugins/.libs" >&2; exit 1; }
    chmod 755 "$pd/$m"
done

sql() {  # sql ROWS: the benchmark's query
    echo "SELECT i AS id, 'account-' || i AS name, (i * 1.25)::numeric(14,2) AS amount," \
         "DATE '2026-01-01' + (i % 365) AS day, i % 3 = 0 AS flag FROM generate_series(1, $1) AS i"
}

conf() {  # conf ROWS
    cat > "$TMP/bench.conf" <<C
plugin_dir = "$pd";
state_dir = "$TMP/state";
log = { level = "warn"; };
sources = { pg = { plugin = "postgres"; conninfo = "host=$PG_DIR port=$PG_PORT dbname=postgres user=$PG_SUPERUSER";
                   fetch_rows = $FETCH_ROWS; rows_per_chunk = $ROWS_PER_CHUNK; }; };
pipelines = { sum = { analysis = "A5"; options = { findings = 1; };
                      inputs = { rows = { source = "pg"; query = "$(sql "$1")"; }; }; }; };
C
}

measure() {  # measure NAME OUTFILE CMD...: run CMD under /usr/bin/time -v; prints "KiB seconds"
    name=$1 out=$2
    shift 2
    /usr/bin/time -v -o "$TMP/$name.time" "$@" > "$out" 2> "$TMP/$name.err"
    rc=$?
    [ $rc -eq 0 ] || { echo "bench: $name failed (exit $rc): $(tail -3 "$TMP/$name.err")" >&2; exit 1; }
    kib=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$TMP/$name.time")
    wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/$name.time")
    echo "$kib $wall"
}

printf '%-10s %22s %22s %22s\n' "rows" "revops query" "revops run (tp_sum)" "psql COPY (reference)"
printf '%-10s %22s %22s %22s\n' "" "peak RSS KiB, wall" "peak RSS KiB, wall" "peak RSS KiB, wall"
for n in "$@"; do
    conf "$n"
    q=$(measure "query$n" "$TMP/query$n.json" "$REVOPS" query -c "$TMP/bench.conf" -s pg -q "$(sql "$n")" --chunk 0) || exit 1
    got=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["total_rows"])' "$TMP/query$n.json")
    [ "$got" = "$n" ] || { echo "bench: revops query reported total_rows $got, not $n" >&2; exit 1; }
    r=$(measure "run$n" "$TMP/run$n.json" "$REVOPS" run -c "$TMP/bench.conf" --format json) || exit 1
    got=$("$PYTHON" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["runs"][0]["finding_list"][0]["signals"][0]["value"]))' "$TMP/run$n.json")
    [ "$got" = "$n" ] || { echo "bench: tp_sum saw $got rows, not $n" >&2; exit 1; }
    c=$(measure "copy$n" /dev/null "$PG_BIN/psql" -X -q -h "$PG_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres \
        -c "COPY ($(sql "$n")) TO STDOUT") || exit 1
    printf '%-10s %14s %7s %14s %7s %14s %7s\n' "$n" $q $r $c
done
echo "($("$PG_BIN/postgres" --version); fetch_rows $FETCH_ROWS, rows_per_chunk $ROWS_PER_CHUNK)"
