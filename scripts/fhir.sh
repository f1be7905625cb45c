#!/usr/bin/env bash
# Makes the independent FHIR R4 validator ready: a virtual environment in target/fhir-venv with
# the pinned fhir.resources (scripts/fhir-validator/requirements.txt), installed from PyPI the
# first time. Prints the command that runs the validator; fails loudly if it cannot be set up.
#   scripts/fhir.sh                 # → /…/target/fhir-venv/bin/python /…/scripts/fhir-validator/validate.py
#   $(scripts/fhir.sh) bundle.json  # validate a file
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/fhir-venv"
req="$root/scripts/fhir-validator/requirements.txt"
stamp="$venv/.requirements"
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  echo "fhir.sh: installing the FHIR R4 validator into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "fhir.sh: python3 -m venv failed (apt-get install python3-venv?)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 \
    || { echo "fhir.sh: could not install $req from PyPI" >&2; exit 1; }
  cp "$req" "$stamp"
fi
"$venv/bin/python" -c 'import fhir.resources' >&2 || { echo "fhir.sh: fhir.resources does not import" >&2; exit 1; }
echo "$venv/bin/python $root/scripts/fhir-validator/validate.py"
