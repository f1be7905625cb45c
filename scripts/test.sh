#!/usr/bin/env bash
# Runs every test — unit, property and integration — against embedded SQLite and against a
# throwaway PostgreSQL cluster this script starts (and stops afterwards). If PostgreSQL cannot
# be started, this fails: it never skips the PostgreSQL half.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
# Tests create one database each; durability of the test cluster itself does not matter.
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
pg_start
trap pg_stop EXIT
export NATLIS_TEST_PG_URL="$NATLIS_PG_URL"
# Every FHIR bundle the test receivers are given is checked by an independent R4 validator
# (fhir.resources from PyPI, installed on first use into target/fhir-venv).
NATLIS_FHIR_VALIDATOR="$(scripts/fhir.sh)"
export NATLIS_FHIR_VALIDATOR
# Certificates are read back as a person's phone would: the PDF rendered by pdftoppm, its QR code
# decoded by zbarimg, the payload verified by pycose (scripts/cose.sh installs what is missing).
NATLIS_COSE_VERIFIER="$(scripts/cose.sh)"
export NATLIS_COSE_VERIFIER
# The tests log everything natlis and sqlx log to target/tmp/test-logs; no full ID number may be there.
rm -rf target/tmp/test-logs
cargo test --workspace --all-targets "$@"
scripts/check-logs.sh target/tmp/test-logs
# The pages in a real headless Chromium (Debian's, driven by playwright-core from npm, checked
# with axe-core; installed on first use): the story from the collection site to a released
# result and the person's status, against a demo server on SQLite and one on PostgreSQL,
# screenshots in target/browser/screens/<database>.
scripts/browser-story.sh target/debug/natlis
# Every shell example of the README, as written, against a fresh demo server.
scripts/readme-examples.sh target/debug/natlis
# The API fuzzed through its own document (schemathesis from PyPI), on SQLite and PostgreSQL,
# a minute each: no server error, no status, content type or body the document does not list.
scripts/schemathesis.sh target/debug/natlis
