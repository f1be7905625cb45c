#!/usr/bin/env bash
# The browser story (scripts/browser/story.cjs) against a fresh demo server of the given binary
# (default target/debug/natlis), once on SQLite and once on the PostgreSQL at $NATLIS_PG_URL:
# headless Chromium logs in, scans a pool as a scanner types, meets a refusal, closes the tube
# short; a technician receives it, builds a plate, imports the run; a reviewer releases it and
# looks the person up. Screenshots of every screen go to target/browser/screens/<database>.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/natlis}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
: "${NATLIS_PG_URL:?browser-story.sh needs NATLIS_PG_URL (a running PostgreSQL; see scripts/pg.sh)}"
run=$(scripts/browser.sh)
# The certificate is read back from its PDF (pdftoppm, zbarimg; installed by cose.sh if missing).
scripts/cose.sh >/dev/null
dir=$(mktemp -d /tmp/natlis-browser.XXXXXX)
server=
stop() { [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; server=; }
trap 'stop; rm -rf "$dir"' EXIT
rm -rf target/browser/screens

# story NAME DB-ARGS…: a demo server on that database, then the story against it.
story() {
    local name=$1; shift
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$dir/$name"
    "$bin" serve --demo --addr "127.0.0.1:$port" --first-admin-dir "$dir/$name" "$@" >"$dir/$name/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 120); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
        kill -0 "$server" 2>/dev/null || { cat "$dir/$name/server.log" >&2; echo "browser: FATAL: the demo server on $name died" >&2; exit 1; }
        sleep 0.5
    done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$dir/$name/server.log" >&2; echo "browser: FATAL: the demo server on $name did not get ready" >&2; exit 1; }
    echo "browser: the story on $name" >&2
    NATLIS_URL="http://127.0.0.1:$port" NATLIS_SHOTS="$(pwd)/target/browser/screens/$name" \
        NATLIS_BIN="$bin" NATLIS_DB_ARGS="$*" NATLIS_WORK="$dir/$name" $run \
        || { tail -30 "$dir/$name/server.log" >&2; echo "browser: FAILED on $name" >&2; exit 1; }
    stop
}

story sqlite --data-dir "$dir/sqlite/data"
db="natlis_browser_$$"
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1) \
    || { echo "browser: psql not found" >&2; exit 1; }
"$psql" "$NATLIS_PG_URL" -qc "CREATE DATABASE $db" >/dev/null
story postgres --database-url "${NATLIS_PG_URL%/*}/$db" --audit-key "$dir/pg-audit.key"
echo "browser: the story passed on SQLite and PostgreSQL" >&2
