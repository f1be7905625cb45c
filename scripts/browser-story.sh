#!/usr/bin/env bash
# The browser story (scripts/browser/story.cjs) against a fresh demo server of the given binary
# (default target/debug/natlis): headless Chromium logs in, scans a pool as a scanner types,
# meets a refusal, closes the tube short; screenshots of every screen go to target/browser/screens.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/natlis}
run=$(scripts/browser.sh)
dir=$(mktemp -d /tmp/natlis-browser.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --demo --addr "127.0.0.1:$port" --data-dir "$dir/data" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    kill -0 $server 2>/dev/null || { cat "$dir/server.log" >&2; echo "browser: FATAL: the demo server died" >&2; exit 1; }
    sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$dir/server.log" >&2; echo "browser: FATAL: the demo server did not get ready" >&2; exit 1; }
rm -rf target/browser/screens
NATLIS_URL="http://127.0.0.1:$port" NATLIS_SHOTS="$(pwd)/target/browser/screens" $run
