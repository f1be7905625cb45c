#!/usr/bin/env bash
# Fuzzes the API through its own OpenAPI document with schemathesis (PyPI, pinned in
# scripts/schemathesis/requirements.txt, installed on first use into target/schemathesis-venv):
# a demo server on SQLite, and one on the PostgreSQL at $NATLIS_PG_URL, each for
# ${NATLIS_FUZZ_SECONDS:-60} s, as an administrator. Fails on any server error (5xx), any
# status, content type or body the document does not promise. (POST /logout and
# DELETE /tokens/{prefix} are left out: they would end the fuzzer's own session.)
#   scripts/schemathesis.sh target/debug/natlis
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
natlis="${1:?usage: scripts/schemathesis.sh path/to/natlis}"
venv="$root/target/schemathesis-venv"
req="$root/scripts/schemathesis/requirements.txt"
if ! cmp -s "$req" "$venv/.requirements" 2>/dev/null; then
  echo "schemathesis.sh: installing schemathesis into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "schemathesis.sh: python3 -m venv failed" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 \
    || { echo "schemathesis.sh: could not install $req from PyPI" >&2; exit 1; }
  cp "$req" "$venv/.requirements"
fi
: "${NATLIS_PG_URL:?schemathesis.sh needs NATLIS_PG_URL (a running PostgreSQL; see scripts/pg.sh)}"
work="$(mktemp -d "$root/target/tmp/fuzz.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

fuzz() {
  local name="$1"; shift
  local port; port=$(free_port)
  NATLIS_ADMIN_PASSWORD=fuzz-admin-password NATLIS_LOG=warn \
    "$natlis" serve --demo --addr "127.0.0.1:$port" --first-admin-dir "$work" "$@" \
    >"$work/$name-serve.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  local token
  token=$(curl -fs -X POST "http://127.0.0.1:$port/api/v1/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"fuzz-admin-password"}' \
    | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])') \
    || { echo "schemathesis.sh: $name: could not log in"; cat "$work/$name-serve.log"; exit 1; }
  echo "schemathesis.sh: fuzzing natlis on $name for ${NATLIS_FUZZ_SECONDS:-60} s" >&2
  # (From the work folder: schemathesis keeps a cache in its working directory.)
  (cd "$work" && "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
    -H "Authorization: Bearer $token" \
    --exclude-path /api/v1/logout --exclude-path '/api/v1/tokens/{prefix}' \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,fuzzing --max-time "${NATLIS_FUZZ_SECONDS:-60}" -w 2 --no-color \
    --generation-deterministic \
    >"$work/$name-schemathesis.log" 2>&1) \
    || { tail -80 "$work/$name-schemathesis.log"; echo "schemathesis.sh: FAILED on $name (log: $work/$name-schemathesis.log)"; exit 1; }
  tail -12 "$work/$name-schemathesis.log" >&2
}

fuzz sqlite --data-dir "$work/natlis-data"
db="natlis_fuzz_$$"
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1) \
  || { echo "schemathesis.sh: psql not found" >&2; exit 1; }
"$psql" "$NATLIS_PG_URL" -qc "CREATE DATABASE $db" >/dev/null
fuzz postgres --database-url "${NATLIS_PG_URL%/*}/$db" --audit-key "$work/pg-audit.key"
echo "schemathesis.sh: no server error and no answer outside the document, on SQLite and PostgreSQL" >&2
