#!/usr/bin/env bash
# Runs the benchmarks in release mode on SQLite and on a throwaway PostgreSQL cluster (with its
# default, durable settings) and prints the figures. Extra arguments go to `natlis bench accession`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
cargo build --release --quiet
pg_start
trap pg_stop EXIT
./target/release/natlis bench accession --postgres-url "$NATLIS_PG_URL" "$@"
