#!/usr/bin/env bash
# Fails if any log written during the test run carries a full resident ID number: 6-digit area,
# a birth date 18xx–20xx, 3-digit sequence, check character. Masked numbers (110105********002X)
# do not match. Also fails if there were no logs at all: the check must check something.
set -euo pipefail
dir=${1:?usage: check-logs.sh DIR}
files=$(find "$dir" -name '*.log' 2>/dev/null | wc -l)
lines=$(cat "$dir"/*.log 2>/dev/null | wc -l)
if [ "$files" -eq 0 ] || [ "$lines" -eq 0 ]; then
    echo "check-logs: FAILED: no test logs in $dir" >&2
    exit 1
fi
pattern='(^|[^0-9A-Za-z])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]([^0-9A-Za-z]|$)'
if grep -E -n -m 5 "$pattern" "$dir"/*.log; then
    echo "check-logs: FAILED: a full ID number reached a log (above)" >&2
    exit 1
fi
echo "check-logs: $lines log lines in $files files, no full ID number"
