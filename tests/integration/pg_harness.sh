# Throwaway PostgreSQL clusters for the integration tests.  Source this file (POSIX sh), then:
#
#   pg_harness_start      initdb + start a cluster in a new temporary directory; exports
#                         PGHOST (the socket directory), PGPORT, PGUSER, PGDATABASE and
#                         PG_HARNESS_DIR (the state that the other functions, and C tests that
#                         call them through `sh -c '. pg_harness.sh; pg_harness_kill'`, use)
#   pg_harness_kill       pg_ctl -m immediate stop: the server dies as in a crash
#   pg_harness_stop       orderly stop (-m fast)
#   pg_harness_restart    start the same cluster again (after kill or stop); crash recovery
#                         runs when it was killed
#   pg_harness_createdb N a fresh database
#   pg_harness_destroy    stop whatever runs and remove the directory (safe to call twice;
#                         put it in a trap)
#
# As root, initdb and postgres run as the postgres user through runuser (they refuse root) and
# the directory is chowned to it; as another user they run as that user.  The server listens
# on a Unix socket only (listen_addresses = ''), in the private directory, on a random port
# other than 5432, with fsync = off (the OS keeps written data across a server crash, which is
# all the outage test needs; synchronous_commit stays on so that an acknowledged COMMIT
# survives pg_harness_kill).

PG_HARNESS_BINDIR=${PG_HARNESS_BINDIR:-}

pg_harness_bindir() {
    if [ -z "$PG_HARNESS_BINDIR" ]; then
        for d in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null)"; do
            if [ -n "$d" ] && [ -x "$d/initdb" ]; then
                PG_HARNESS_BINDIR=$d
                break
            fi
        done
    fi
    [ -n "$PG_HARNESS_BINDIR" ] || {
        echo "pg_harness: no initdb found (apt-get install postgresql)" >&2
        return 1
    }
}

# Run a server-side command as the cluster's owner.
pg_harness_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_harness_start() {
    pg_harness_bindir || return 1
    PG_HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/saef-pg.XXXXXX") || return 1
    export PG_HARNESS_DIR
    mkdir "$PG_HARNESS_DIR/sock" || return 1
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$PG_HARNESS_DIR" || return 1
    fi
    # With a private socket directory no other cluster can hold the port; 5432 stays out of
    # the range anyway.
    PGPORT=$((20000 + $$ % 20000))
    export PGPORT
    pg_harness_as_owner "$PG_HARNESS_BINDIR/initdb" -D "$PG_HARNESS_DIR/data" -U postgres \
        --auth=trust --encoding=UTF8 --locale=C --no-sync >"$PG_HARNESS_DIR/initdb.log" 2>&1 || {
        cat "$PG_HARNESS_DIR/initdb.log" >&2
        return 1
    }
    cat >>"$PG_HARNESS_DIR/data/postgresql.conf" <<EOF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$PG_HARNESS_DIR/sock'
fsync = off
full_page_writes = off
max_connections = 60
EOF
    PGHOST=$PG_HARNESS_DIR/sock
    PGUSER=postgres
    PGDATABASE=postgres
    export PGHOST PGUSER PGDATABASE
    pg_harness_restart
}

pg_harness_wait_ready() {
    i=0
    while [ $i -lt 100 ]; do
        if "$PG_HARNESS_BINDIR/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -t 1; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "pg_harness: server not ready after 10 s" >&2
    tail -20 "$PG_HARNESS_DIR/server.log" >&2
    return 1
}

pg_harness_restart() {
    pg_harness_bindir || return 1
    pg_harness_as_owner "$PG_HARNESS_BINDIR/pg_ctl" -D "$PG_HARNESS_DIR/data" \
        -l "$PG_HARNESS_DIR/server.log" -w -t 30 start >/dev/null || {
        tail -20 "$PG_HARNESS_DIR/server.log" >&2
        return 1
    }
    pg_harness_wait_ready
}

pg_harness_kill() {
    pg_harness_bindir || return 1
    pg_harness_as_owner "$PG_HARNESS_BINDIR/pg_ctl" -D "$PG_HARNESS_DIR/data" -m immediate \
        -w stop >/dev/null
}

pg_harness_stop() {
    pg_harness_bindir || return 1
    pg_harness_as_owner "$PG_HARNESS_BINDIR/pg_ctl" -D "$PG_HARNESS_DIR/data" -m fast \
        -w stop >/dev/null
}

pg_harness_createdb() {
    "$PG_HARNESS_BINDIR/createdb" -h "$PGHOST" -p "$PGPORT" -U postgres "$1"
}

pg_harness_destroy() {
    [ -n "${PG_HARNESS_DIR:-}" ] && [ -d "$PG_HARNESS_DIR" ] || return 0
    pg_harness_bindir || return 1
    if [ -f "$PG_HARNESS_DIR/data/postmaster.pid" ]; then
        pg_harness_as_owner "$PG_HARNESS_BINDIR/pg_ctl" -D "$PG_HARNESS_DIR/data" \
            -m immediate -w -t 10 stop >/dev/null 2>&1
    fi
    # pg_ctl failed or timed out: end our postmaster (and only ours) by its pid.
    if [ -f "$PG_HARNESS_DIR/data/postmaster.pid" ]; then
        pid=$(head -1 "$PG_HARNESS_DIR/data/postmaster.pid")
        case $pid in
        '' | *[!0-9]*) ;;
        *) kill -9 "$pid" 2>/dev/null ;;
        esac
    fi
    rm -rf "$PG_HARNESS_DIR"
    PG_HARNESS_DIR=
}
