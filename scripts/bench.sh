#!/usr/bin/env bash
# Runs the benchmarks in release mode on SQLite and on a throwaway PostgreSQL cluster (with its
# default, durable settings) and prints the figures. `scripts/bench.sh accession …` or
# `scripts/bench.sh pages …`, `import …`, `push …`, `turnaround …` or `ledger …` runs one of them
# with extra arguments;
# no argument runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
cargo build --release --quiet
pg_start
trap pg_stop EXIT
if [ $# -gt 0 ]; then
    which=$1
    shift
    ./target/release/natlis bench "$which" --postgres-url "$NATLIS_PG_URL" "$@"
else
    ./target/release/natlis bench accession --postgres-url "$NATLIS_PG_URL"
    ./target/release/natlis bench pages --postgres-url "$NATLIS_PG_URL"
    ./target/release/natlis bench import --postgres-url "$NATLIS_PG_URL"
    ./target/release/natlis bench push --postgres-url "$NATLIS_PG_URL"
    ./target/release/natlis bench turnaround --postgres-url "$NATLIS_PG_URL"
    ./target/release/natlis bench ledger --postgres-url "$NATLIS_PG_URL"
fi
