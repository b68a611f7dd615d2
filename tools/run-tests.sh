#!/usr/bin/env bash
# Runs the test files given (or all) with tap and ends with one plain summary line,
# "N passed, N failed", that CI reads. tap's own exit status is kept.
set -uo pipefail
files=("$@")
# Without arguments: every test but conformance/v2host, which needs a cgroup v2 + systemd host
# (tools/vm/run.sh runs those in a VM).
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find dist/conformance -name '*.test.js' -not -path 'dist/conformance/v2host/*' | sort)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# tap from node_modules, not npx: the VM guest has node but no npm. TAP_TIMEOUT: seconds per file.
node_modules/.bin/tap --disable-coverage --allow-empty-coverage --reporter=tap --timeout="${TAP_TIMEOUT:-300}" --jobs=2 "${files[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# tap's last line reads "# { total: T, pass: P, fail: F, ... }"
summary=$(grep -E '^# \{ total:' "$log" | tail -n 1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$status"
