# A throwaway PostgreSQL server for the tests and benchmarks (sourced, POSIX sh).
#
#   . "$top_srcdir/tests/pg_server.sh"
#   pg_find_bin || { echo "ok 1 # SKIP $PG_WHY"; echo 1..1; exit 0; }
#   pg_start || { echo "Bail out! $PG_WHY"; exit 1; }
#   pg_psql -c 'SELECT 1'
#
# pg_find_bin  sets PG_BIN to the directory holding initdb, pg_ctl and psql
#              ($PG_BIN if already set, else the newest /usr/lib/postgresql/*/bin,
#              else `pg_config --bindir`); returns 1 with PG_WHY when none.
# pg_start     initdb in a new temporary directory PG_DIR (under /tmp when root),
#              then starts the server listening only on a unix socket in PG_DIR
#              (listen_addresses = ''), port PG_PORT.  Authentication: the
#              superuser PG_SUPERUSER is trusted on the socket, every other role
#              needs its password (scram-sha-256).  The server is stopped and
#              PG_DIR removed at exit (the EXIT trap is replaced by one that also
#              removes $TMP, as tap_tmpdir's did).  As root the server runs as the
#              unprivileged user PG_RUNAS (default `postgres`, which Debian's
#              postgresql package creates), since PostgreSQL refuses to run as root.
#              Returns 1 with PG_WHY (and the server log) when anything fails.
# pg_psql ARGS psql as the superuser over the socket (-X, ON_ERROR_STOP, quiet);
#              PG_DB picks the database (default postgres).
# pg_stop      stops the server now (idempotent).

PG_PORT=${PG_PORT:-5432}
PG_SUPERUSER=${PG_SUPERUSER:-revops_admin}
PG_DIR=
PG_STARTED=
PG_WHY=

pg_find_bin() {
    if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; then return 0; fi
    PG_BIN=
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN=$d
    done
    if [ -z "$PG_BIN" ] && command -v pg_config > /dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null)
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN=$d
    fi
    if [ -z "$PG_BIN" ]; then
        PG_WHY="no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin; install Debian's postgresql package"
        return 1
    fi
    return 0
}

# Run a command as the server's user.
pg_as() {
    if [ -z "${PG_RUNAS:-}" ]; then
        "$@"
    elif command -v runuser > /dev/null 2>&1; then
        runuser -u "$PG_RUNAS" -- "$@"
    else
        su "$PG_RUNAS" -s /bin/sh -c '"$0" "$@"' "$@"
    fi
}

pg_stop() {
    if [ -n "$PG_STARTED" ]; then
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop > /dev/null 2>&1
        PG_STARTED=
    fi
    if [ -n "$PG_DIR" ]; then
        rm -rf "$PG_DIR"
        PG_DIR=
    fi
}

pg_fail() {  # pg_fail WHY: set PG_WHY (with the server log's tail), stop, return 1
    PG_WHY=$1
    if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/log" ]; then
        PG_WHY="$PG_WHY; server log: $(tail -5 "$PG_DIR/log" | tr '\n' ' ')"
    fi
    pg_stop
    return 1
}

pg_start() {
    pg_find_bin || return 1
    if [ "$(id -u)" -eq 0 ]; then
        PG_RUNAS=${PG_RUNAS:-postgres}
        if ! id "$PG_RUNAS" > /dev/null 2>&1; then
            PG_WHY="running as root, and there is no user '$PG_RUNAS' to run the server as (set PG_RUNAS)"
            return 1
        fi
        # The server's user must reach the directory: /tmp, not root's TMPDIR.
        PG_DIR=$(mktemp -d /tmp/revops-pg.XXXXXX) || { PG_WHY="mktemp failed"; return 1; }
        chown "$PG_RUNAS" "$PG_DIR"
    else
        PG_RUNAS=
        PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/revops-pg.XXXXXX") || { PG_WHY="mktemp failed"; return 1; }
    fi
    chmod 755 "$PG_DIR"
    trap 'pg_stop; [ -n "${TMP:-}" ] && rm -rf "$TMP"' EXIT
    trap 'exit 130' INT TERM

    if ! pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_SUPERUSER" -E UTF8 --locale=C \
            --auth-local=trust --auth-host=reject --no-sync > "$PG_DIR/initdb.log" 2>&1; then
        pg_fail "initdb failed: $(tail -3 "$PG_DIR/initdb.log" | tr '\n' ' ')"
        return 1
    fi
    # Only the socket; the superuser is trusted, every other role needs its password.
    pg_as sh -c 'cat >> "$1/data/postgresql.conf"' sh "$PG_DIR" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
port = $PG_PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 20
shared_buffers = 16MB
CONF
    pg_as sh -c 'cat > "$1/data/pg_hba.conf"' sh "$PG_DIR" <<HBA
local all $PG_SUPERUSER trust
local all all scram-sha-256
HBA
    if ! pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 start > "$PG_DIR/pg_ctl.log" 2>&1; then
        pg_fail "pg_ctl start failed: $(tail -3 "$PG_DIR/pg_ctl.log" | tr '\n' ' ')"
        return 1
    fi
    PG_STARTED=1
    if ! pg_psql -c 'SELECT 1' > /dev/null 2>&1; then
        pg_fail "the server started but psql cannot connect on $PG_DIR"
        return 1
    fi
    return 0
}

pg_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" -d "${PG_DB:-postgres}" "$@"
}
