#!/bin/sh
# Load the generated demo warehouse (a SQLite file made by demo/revops-demo-gen)
# into the throwaway PostgreSQL of tests/pg_server.sh, as typed tables with the
# same names and columns (tests/demo_pg_schema.sql: dates as date,
# created_at_ts as timestamp, REAL as double precision, INTEGER as bigint,
# TEXT as text, the same keys and indexes).  POSIX sh.
#
# Sourced (after `. tests/pg_server.sh; pg_start`):
#   . "$top_srcdir/tests/demo_to_pg.sh"
#   PG_DB=warehouse demo_to_pg "$TMP/warehouse.db" || fail
# Run (the server's PG_DIR and PG_PORT exported, e.g. from a sourcing shell):
#   PG_DIR=... PG_DB=warehouse sh tests/demo_to_pg.sh warehouse.db
#
# PG_DB picks the database (default postgres).  DEMO_PG_ROLE, when set, is the
# role that creates (and so owns) the tables (SET ROLE).  The data travels as
# `sqlite3 -csv` dumps loaded with psql's \copy (NULL as an unquoted empty
# field, '' as a quoted one; UTF-8 kept as it is; REAL columns written with
# SQLite's %!.17g so PostgreSQL reads the very same doubles: without the "!"
# flag SQLite's printf stops at 16 significant digits, and %.17g turns about a
# third of the demo's engine_hours into a neighbouring double).  Prints one line per table,
# "table rows", and returns 1 (saying why) when anything fails or a table's row
# count differs from SQLite's.

DEMO_PG_TABLES="salesforce_account_d opportunity_d consumption_daily_d agreement_f gong_call_f slack_message_f"

demo_to_pg() {
    _dp_db=$1
    _dp_schema=${DEMO_PG_SCHEMA:-${top_srcdir:-.}/tests/demo_pg_schema.sql}
    if [ -z "$_dp_db" ] || [ ! -f "$_dp_db" ]; then
        echo "demo_to_pg: no such SQLite database '$_dp_db'" >&2
        return 1
    fi
    if [ ! -f "$_dp_schema" ]; then
        echo "demo_to_pg: no schema file '$_dp_schema' (set top_srcdir or DEMO_PG_SCHEMA)" >&2
        return 1
    fi
    command -v sqlite3 > /dev/null 2>&1 || { echo "demo_to_pg: the sqlite3 command-line tool is needed" >&2; return 1; }
    _dp_tmp=$(mktemp -d "${TMPDIR:-/tmp}/revops-demo2pg.XXXXXX") || return 1
    _dp_script="$_dp_tmp/load.psql"
    {
        [ -n "${DEMO_PG_ROLE:-}" ] && printf 'SET ROLE "%s";\n' "$DEMO_PG_ROLE"
        printf "\\i '%s'\n" "$_dp_schema"
    } > "$_dp_script"
    for _dp_t in $DEMO_PG_TABLES; do
        # Column names in SQLite's order (the schema file keeps that order).
        _dp_cols=$(sqlite3 "$_dp_db" "SELECT group_concat(name, ', ') FROM pragma_table_info('$_dp_t')")
        _dp_sel=$(sqlite3 "$_dp_db" "SELECT group_concat(CASE WHEN type = 'REAL'
                 THEN 'CASE WHEN ' || name || ' IS NULL THEN NULL ELSE printf(''%!.17g'', ' || name || ') END'
                 ELSE name END, ', ') FROM pragma_table_info('$_dp_t')")
        if [ -z "$_dp_cols" ]; then
            echo "demo_to_pg: $_dp_db has no table $_dp_t" >&2
            rm -rf "$_dp_tmp"
            return 1
        fi
        if ! sqlite3 -csv "$_dp_db" "SELECT $_dp_sel FROM $_dp_t" > "$_dp_tmp/$_dp_t.csv"; then
            echo "demo_to_pg: exporting $_dp_t from $_dp_db failed" >&2
            rm -rf "$_dp_tmp"
            return 1
        fi
        # (printf, not echo: dash's echo takes "\c" for an escape)
        printf "\\copy %s (%s) FROM '%s' WITH (FORMAT csv, ENCODING 'UTF8')\n" \
            "$_dp_t" "$_dp_cols" "$_dp_tmp/$_dp_t.csv" >> "$_dp_script"
    done
    printf 'ANALYZE;\n' >> "$_dp_script"
    if ! pg_psql -f "$_dp_script" > "$_dp_tmp/load.out" 2>&1; then
        echo "demo_to_pg: loading into PostgreSQL failed: $(tail -5 "$_dp_tmp/load.out" | tr '\n' ' ')" >&2
        rm -rf "$_dp_tmp"
        return 1
    fi
    rm -rf "$_dp_tmp"
    _dp_rc=0
    for _dp_t in $DEMO_PG_TABLES; do
        _dp_pg=$(pg_psql -At -c "SELECT count(*) FROM $_dp_t" 2>&1)
        _dp_lite=$(sqlite3 "$_dp_db" "SELECT count(*) FROM $_dp_t" 2>&1)
        echo "$_dp_t $_dp_pg"
        if [ "$_dp_pg" != "$_dp_lite" ]; then
            echo "demo_to_pg: $_dp_t has $_dp_pg rows in PostgreSQL but $_dp_lite in SQLite" >&2
            _dp_rc=1
        fi
    done
    return $_dp_rc
}

# Run as a command: take the server from the environment (PG_DIR, PG_PORT,
# PG_BIN, PG_SUPERUSER, as pg_server.sh set them in the shell that started it).
case $0 in
*demo_to_pg.sh)
    _dp_here=$(cd "$(dirname "$0")" && pwd)
    _dp_dir=${PG_DIR:-}
    . "$_dp_here/pg_server.sh"
    PG_DIR=$_dp_dir
    : "${top_srcdir:=$_dp_here/..}"
    if [ $# -ne 1 ]; then
        echo "usage: PG_DIR=DIR [PG_PORT=N] [PG_DB=NAME] $0 WAREHOUSE.db" >&2
        exit 64
    fi
    if [ -z "$PG_DIR" ]; then
        echo "$0: set PG_DIR to the running server's directory (tests/pg_server.sh)" >&2
        exit 64
    fi
    pg_find_bin || { echo "$0: $PG_WHY" >&2; exit 1; }
    demo_to_pg "$1"
    exit $?
    ;;
esac
