#!/usr/bin/env bash
# Prints the command that runs a browser story (node + playwright-core driving Debian's
# headless Chromium), installing what it needs on first use: the Debian packages chromium and
# chromium-driver (no browser download) and a CJK font, and playwright-core and axe-core (the
# accessibility checks) from npm into target/browser. Fails loudly when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "browser: installing the Debian packages chromium and chromium-driver" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2
    fi
    command -v chromium >/dev/null || { echo "browser: FATAL: chromium is not installed and could not be installed" >&2; exit 1; }
fi
# The pages are Chinese first: without a CJK font the screenshots show boxes.
if ! dpkg -s fonts-noto-cjk >/dev/null 2>&1 && ! fc-list 2>/dev/null | grep -qi "cjk"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "browser: installing the Debian package fonts-noto-cjk" >&2
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >&2; then
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >&2
        fi
    fi
fi
command -v node >/dev/null || { echo "browser: FATAL: node is not installed" >&2; exit 1; }
dir=target/browser
if [ ! -d "$dir/node_modules/playwright-core" ] || [ ! -d "$dir/node_modules/axe-core" ] \
    || ! cmp -s scripts/browser/package.json "$dir/package.json"; then
    mkdir -p "$dir"
    cp scripts/browser/package.json "$dir/"
    echo "browser: installing playwright-core and axe-core into $dir" >&2
    (cd "$dir" && npm install --no-audit --no-fund --silent >&2) \
        || { echo "browser: FATAL: npm could not install playwright-core" >&2; exit 1; }
fi
echo "node $(pwd)/scripts/browser/story.cjs"
