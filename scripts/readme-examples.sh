#!/usr/bin/env bash
# Runs every shell example of README.md — each ```sh block, in order, in one shell, as written —
# against a fresh demo server of the given binary (default target/debug/natlis), so no example
# can name a stale plate number, a fixed id or a file that does not ship. A block preceded by
# `<!-- not run: why -->` is skipped (it starts a server of its own, needs a certificate, …).
# The server listens on a free port (the examples' localhost:8080 is pointed at it), its data in
# ./natlis-data of a work folder where ../shared and samples/ are what they are beside the
# repository; `natlis` on the PATH is the binary. Any failing command — a curl answered 4xx/5xx
# included — fails the run, naming the README's line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-target/debug/natlis}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
base="$root/target/readme"
rm -rf "$base"
mkdir -p "$base/work" "$base/bin"
ln -s "$bin" "$base/bin/natlis"
ln -s "$root/../shared" "$base/shared"
ln -s "$root/samples" "$base/work/samples"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$base/work"
"$bin" serve --demo --addr "127.0.0.1:$port" >"$base/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    kill -0 $server 2>/dev/null || { cat "$base/server.log" >&2; echo "readme: FATAL: the demo server died" >&2; exit 1; }
    sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$base/server.log" >&2; echo "readme: FATAL: the demo server did not get ready" >&2; exit 1; }
# The blocks, in order, each announced with its line; localhost:8080 is this server.
python3 - "$root/README.md" "$port" >"$base/examples.sh" <<'PY'
import re, sys
readme, port = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().split("\n")
out = ["set -euo pipefail",
       # Every curl fails on an HTTP error, with the answer shown.
       "curl() { command curl --fail-with-body --max-time 60 \"$@\"; }"]
i, blocks, skipped = 0, 0, 0
while i < len(lines):
    if lines[i].strip() == "```sh":
        prev = next((l for l in reversed(lines[:i]) if l.strip()), "")
        j = i + 1
        while lines[j].strip() != "```":
            j += 1
        if prev.strip().startswith("<!-- not run:"):
            skipped += 1
        else:
            blocks += 1
            out.append(f'echo "readme: the example at README.md line {i + 1}" >&2')
            out.extend(l.replace("localhost:8080", f"127.0.0.1:{port}") for l in lines[i + 1:j])
        i = j
    i += 1
out.append(f'echo "readme: {blocks} examples ran as written ({skipped} marked not run)" >&2')
print("\n".join(out))
PY
PATH="$base/bin:$PATH" bash "$base/examples.sh" >"$base/examples.out" 2>"$base/examples.err" || {
    tail -40 "$base/examples.out" >&2; tail -15 "$base/examples.err" >&2
    echo "readme: FAILED — an example of the README does not run as written" >&2; exit 1; }
grep "readme:" "$base/examples.err" | tail -1 >&2
