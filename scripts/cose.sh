#!/usr/bin/env bash
# Makes the independent certificate verifier ready: pycose and base45 from PyPI in a virtual
# environment (target/cose-venv), installed the first time; and the Debian tools the certificate
# test reads a PDF with — pdftoppm (poppler-utils), zbarimg (zbar-tools) — and the CJK font the
# PDF embeds (fonts-noto-cjk). Prints the command that runs the verifier; fails loudly if any
# of it cannot be set up.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$root/target"
# One setup at a time (tests run in parallel).
exec 9>"$root/target/cose.lock"
flock 9
need=()
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v zbarimg >/dev/null || need+=(zbar-tools)
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || [ -n "${NATLIS_CJK_FONT:-}" ] || need+=(fonts-noto-cjk)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "cose.sh: installing the Debian packages ${need[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2; then
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    fi
  fi
  command -v pdftoppm >/dev/null && command -v zbarimg >/dev/null \
    || { echo "cose.sh: FATAL: pdftoppm and zbarimg are needed (apt-get install ${need[*]})" >&2; exit 1; }
fi
venv="$root/target/cose-venv"
req="$root/scripts/cose-verifier/requirements.txt"
stamp="$venv/.requirements"
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  echo "cose.sh: installing pycose and base45 into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "cose.sh: python3 -m venv failed (apt-get install python3-venv?)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 \
    || { echo "cose.sh: could not install $req from PyPI" >&2; exit 1; }
  cp "$req" "$stamp"
fi
"$venv/bin/python" -c 'import pycose, base45' >&2 || { echo "cose.sh: pycose does not import" >&2; exit 1; }
echo "$venv/bin/python $root/scripts/cose-verifier/verify.py"
