# shellcheck shell=bash
# A throwaway PostgreSQL cluster for tests and benchmarks: `pg_start` sets NATLIS_PG_URL,
# `pg_stop` stops the cluster and removes it. Fails loudly if PostgreSQL cannot be started.

pg_find_bin() {
    local d
    for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

pg_start() {
    local bin
    if ! bin=$(pg_find_bin); then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "pg: initdb/pg_ctl not found; installing the Debian package postgresql" >&2
            apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        fi
        bin=$(pg_find_bin) || { echo "pg: FATAL: PostgreSQL (initdb, pg_ctl) is not installed and could not be installed" >&2; return 1; }
    fi
    PG_RUN=()
    if [ "$(id -u)" = 0 ]; then
        # initdb refuses to run as root: run the cluster as the postgres user.
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        PG_RUN=(runuser -u postgres --)
    fi
    PG_DIR=$(mktemp -d /tmp/natlis-pg.XXXXXX)
    chmod 755 "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    PG_BIN=$bin
    "${PG_RUN[@]}" "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; echo "pg: FATAL: initdb failed" >&2; return 1; }
    "${PG_RUN[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 ${PG_EXTRA_OPTS:-}" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; echo "pg: FATAL: PostgreSQL did not start" >&2; return 1; }
    NATLIS_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    export NATLIS_PG_URL
    echo "pg: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running at $NATLIS_PG_URL ($PG_DIR)" >&2
}

pg_stop() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
        echo "pg: stopped" >&2
    fi
}
