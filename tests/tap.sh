# Minimal TAP helpers for the shell tests (read by automake's tap-driver.sh).
# Each assertion prints "ok N - name" or "not ok N - name" with a diagnostic.
tap_n=0
tap_failed=0
ok() {  # ok CONDITION-EXIT-STATUS NAME
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
# is GOT WANT NAME
is() {
    tap_n=$((tap_n + 1))
    if [ "$1" = "$2" ]; then echo "ok $tap_n - $3"
    else echo "not ok $tap_n - $3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; tap_failed=$((tap_failed + 1)); fi
}
# like FILE SUBSTRING NAME  (fixed-string grep)
like() {
    tap_n=$((tap_n + 1))
    if grep -qF -- "$2" "$1"; then echo "ok $tap_n - $3"
    else echo "not ok $tap_n - $3"; echo "#   wanted: $2"; sed 's/^/#   | /' "$1" | head -20; tap_failed=$((tap_failed + 1)); fi
}
unlike() {
    tap_n=$((tap_n + 1))
    if grep -qF -- "$2" "$1"; then echo "not ok $tap_n - $3"; echo "#   unwanted: $2"; tap_failed=$((tap_failed + 1))
    else echo "ok $tap_n - $3"; fi
}
done_testing() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ]
}
# A private temporary directory, removed at exit.
tap_tmpdir() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/revops-test.XXXXXX")
    chmod 755 "$TMP"
    trap 'rm -rf "$TMP"' EXIT
}
: "${REVOPS:=$top_builddir/revops}"
: "${PLUGINS:=$top_builddir/plugins/.libs}"
: "${PYTHON:=/usr/bin/python3}"
# jget FILE PYTHON-EXPRESSION: evaluate the expression on the JSON in FILE (as d).
jget() {
    "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}
# A plugin directory holding copies of the given built modules (mode 755).
plugin_dir_with() {
    pd="$TMP/plugins"; mkdir -p "$pd"; chmod 755 "$pd"
    for m in "$@"; do
        if [ -f "$PLUGINS/$m" ]; then cp "$PLUGINS/$m" "$pd/"; else cp "$top_builddir/tests/plugins/.libs/$m" "$pd/"; fi
        chmod 755 "$pd/$m"
    done
}
# demo_conf DB RPC FINDINGS OUT: config/demo.conf pointed at DB, with
# rows_per_chunk RPC, findings to FINDINGS and run records under $TMP/state
# (config/queries.conf and config/kb/, which it names, are copied next to OUT).
demo_conf() {
    cp "$top_srcdir/config/queries.conf" "$(dirname "$4")/queries.conf"
    mkdir -p "$(dirname "$4")/kb" && cp "$top_srcdir"/config/kb/*.md "$(dirname "$4")/kb/"
    sed -e "s|database = \"../demo/warehouse.db\"|database = \"$1\"|" \
        -e "s|rows_per_chunk = 1000;|rows_per_chunk = $2;|" \
        -e "s|path = \"../demo/findings.jsonl\"|path = \"$3\"|" \
        -e "s|state_dir = \"../demo/state\"|state_dir = \"$TMP/state\"|" \
        "$top_srcdir/config/demo.conf" > "$4"
}
# start_fake SCRIPT [ENV=VALUE ...]: run a fake server (python3, loopback) until
# the test exits; sets FAKE_PORT.  The server exits when its stdin closes.
start_fake() {
    script=$1; shift
    fifo="$TMP/fake.$$.$(basename "$script").in"
    mkfifo "$fifo"
    env "$@" "$PYTHON" "$top_srcdir/tests/$script" < "$fifo" > "$TMP/$script.port" 2> "$TMP/$script.err" &
    exec 9> "$fifo"
    for _ in $(seq 100); do
        grep -q PORT "$TMP/$script.port" 2>/dev/null && break
        sleep 0.05
    done
    FAKE_PORT=$(sed -n 's/^PORT //p' "$TMP/$script.port")
    [ -n "$FAKE_PORT" ] || { echo "Bail out! $script did not start: $(cat "$TMP/$script.err")"; exit 1; }
}
