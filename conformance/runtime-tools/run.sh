#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite against a runtime (tsrunc by default).
#
#   RUNTIME_TOOLS=/path/to/runtime-tools  [RUNTIME=...]  run.sh [TEST...]
#
# RUNTIME_TOOLS  runtime-tools source dir in which the validation executables
#                (validation/<name>/<name>.t), runtimetest and
#                rootfs-<arch>.tar.gz already exist. This script builds nothing.
# RUNTIME        runtime to test: an executable (path or name on PATH) or a .js
#                or .cjs file run with node. Default: <repo>/dist/bundle/tsrunc.cjs
# TEST_TIMEOUT   seconds per test (default 60)
# LOG_DIR        where each test's TAP output goes, as <test>.tap
#                (default /tmp/tsrunc-runtime-tools-logs; emptied at start)
# TEST...        test names (default: the foundation list below)
#
# Prints one row per test and a final "N passed, N failed" line; exits 1 if any
# test failed. Must run as root (the tests create real containers).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

default_tests=(
  default create start state kill kill_no_effect killsig delete
  delete_only_create_resources delete_resources hostname process process_user
  mounts pidfile root_readonly_true linux_ns_itype linux_ns_nopath linux_ns_path
  linux_ns_path_type misc_props config_updates_without_affect
  linux_seccomp linux_devices linux_sysctl linux_rootfs_propagation
  linux_masked_paths linux_readonly_paths process_capabilities
  process_capabilities_fail process_rlimits process_rlimits_fail
  process_oom_score_adj
)

# These pass by printing no TAP at all: they expect the runtime to reject the
# config (create or start fails), and print runtimetest's output and exit 1 if
# it did not.
expect_rejection=" process_capabilities_fail process_rlimits_fail "

die() { echo "run.sh: $*" >&2; exit 2; }

# --- inputs -------------------------------------------------------------------
[[ -n ${RUNTIME_TOOLS:-} ]] || die "set RUNTIME_TOOLS to a runtime-tools dir with built validation executables"
tools=$(cd "$RUNTIME_TOOLS" 2>/dev/null && pwd) || die "no such directory: $RUNTIME_TOOLS"
case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
[[ -f $tools/rootfs-$arch.tar.gz ]] || die "missing $tools/rootfs-$arch.tar.gz"
[[ -x $tools/runtimetest ]] || die "missing $tools/runtimetest (build it first)"
[[ $(id -u) -eq 0 ]] || echo "run.sh: warning: not root; most tests will fail" >&2

runtime=${RUNTIME:-$repo/dist/bundle/tsrunc.cjs}
timeout_s=${TEST_TIMEOUT:-60}
log_dir=${LOG_DIR:-/tmp/tsrunc-runtime-tools-logs}
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=("${default_tests[@]}")

# --- scratch space, removed on exit -----------------------------------------------
# Tests make their bundles with os.MkdirTemp(""), i.e. under $TMPDIR: point that
# at our own scratch dir so leftovers are visible and get removed.
# Both must be traversable like /tmp itself: in the user-namespace tests the
# container's root is an unprivileged host uid, which cannot enter a 0700 dir.
scratch=$(mktemp -d /tmp/tsrunc-rt.XXXXXX)
chmod 755 "$scratch"

cleanup_containers() {
  # Force-delete containers whose bundle lives in our scratch dir (leaked by a test).
  local id
  for id in $(timeout 20 "$runtime_cmd" list 2>/dev/null | awk -v d="$scratch/" 'index($0, d) { print $1 }'); do
    echo "run.sh: deleting leftover container $id" >&2
    timeout 20 "$runtime_cmd" delete --force "$id" >/dev/null 2>&1 || true
  done
}

remove_scratch_contents() {
  # Never follow a leaked mount out of the scratch dir: unmount, then stay on one fs.
  grep -F " $1/" /proc/self/mountinfo | awk '{ print $5 }' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} + 2>/dev/null
}

on_exit() {
  cleanup_containers
  remove_scratch_contents "$scratch"
  rmdir "$scratch" 2>/dev/null || echo "run.sh: could not fully remove $scratch" >&2
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# The tests find the runtime with exec.LookPath, so it must be an executable.
if [[ $runtime == *.js || $runtime == *.cjs ]]; then
  [[ -f $runtime ]] || die "runtime $runtime not found (build tsrunc first)"
  runtime_cmd=$scratch/bin/tsrunc
  mkdir -p "$scratch/bin"
  printf '#!/bin/bash\nexec node %q "$@"\n' "$(realpath "$runtime")" >"$runtime_cmd"
  chmod +x "$runtime_cmd"
elif [[ $runtime == */* ]]; then
  runtime_cmd=$(realpath "$runtime")        # the tests run from $tools, not from here
else
  runtime_cmd=$(command -v "$runtime") || die "runtime $runtime not on PATH"
fi

rm -rf "$log_dir" && mkdir -p "$log_dir" || die "cannot create $log_dir"

# --- one test -----------------------------------------------------------------------
# Sets: n_pass n_fail n_skip verdict
run_one() {
  local name=$1 bin="$tools/validation/$1/$1.t" log="$log_dir/$1.tap" rc planned
  n_pass=0 n_fail=0 n_skip=0
  [[ -x $bin ]] || bin="$tools/validation/$1.t"   # older layout
  if [[ ! -x $bin ]]; then
    echo "missing test executable for $name" >"$log"
    verdict=MISSING
    return
  fi

  mkdir -p -m 1777 "$scratch/tmp"
  # cwd must be $tools: the tests read ./rootfs-<arch>.tar.gz and ./runtimetest.
  (cd "$tools" && TMPDIR=$scratch/tmp RUNTIME=$runtime_cmd \
     timeout -k 10 "$timeout_s" "$bin") >"$log" 2>"$log.stderr" </dev/null
  rc=$?
  cleanup_containers
  remove_scratch_contents "$scratch/tmp"

  # Count top-level TAP results (YAML diagnostics are indented).
  n_skip=$(grep -cE '^(not )?ok\b.*# *(SKIP|TODO)' "$log")
  n_fail=$(grep -E '^not ok\b' "$log" | grep -cvE '# *TODO')
  n_pass=$(grep -E '^ok\b' "$log" | grep -cvE '# *(SKIP|TODO)')
  planned=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log" | head -n1)

  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    verdict=TIMEOUT
  elif [[ $expect_rejection == *" $name "* && $rc -eq 0 && ! -s $log ]]; then
    verdict="PASS (config rejected)"
  elif [[ $rc -ne 0 || $n_fail -gt 0 || -z $planned ]] ||
       [[ $planned -ne $((n_pass + n_fail + n_skip)) ]]; then
    verdict=FAIL
  elif [[ $n_pass -eq 0 && $n_skip -gt 0 ]]; then
    verdict=SKIP
  else
    verdict=PASS
  fi
  [[ $rc -eq 0 || $verdict == TIMEOUT ]] || verdict="$verdict (exit $rc)"
}

# --- main ---------------------------------------------------------------------------
echo "runtime: $runtime   runtime-tools: $tools   logs: $log_dir"
printf '%-32s %5s %5s %5s  %s\n' TEST PASS FAIL SKIP VERDICT
passed=0 failed=0 skipped=0
for name in "${tests[@]}"; do
  run_one "$name"
  printf '%-32s %5s %5s %5s  %s\n' "$name" "$n_pass" "$n_fail" "$n_skip" "$verdict"
  case $verdict in
    PASS*) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
