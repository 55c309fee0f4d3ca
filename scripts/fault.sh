#!/usr/bin/env bash
# fault.sh BUILD_DIR [SCALE]: the long fault campaign. Runs every fault
# scenario built in BUILD_DIR/tests/fault (RELIABILITY.md b: three
# tock-scheduler processes on a real redis-server under SIGKILL, crash
# points, SIGSTOP past the lease, Redis kill -9 + restart, skewed clocks)
# with its fault period multiplied by SCALE (TOCK_FAULT_SCALE, default 5),
# one after another and outside ctest, whose timeouts fit the CI-sized runs.
#
# Each scenario logs its seed and fault schedule to BUILD_DIR/<name>.fault.log
# and prints its figures here; a failed one keeps its directory (AOF, Redis
# and node logs, faults.log) and names it. TOCK_FAULT_SEED=N replays one
# schedule; TOCK_FAULT_REPEAT=N runs the campaign N times with fresh seeds.
set -euo pipefail
build=${1:?usage: fault.sh BUILD_DIR [SCALE]}
scale=${2:-5}
repeat=${TOCK_FAULT_REPEAT:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
export TOCK_FAULT_SCALE=$scale TOCK_SOURCE_DIR=$root TOCK_BINARY_DIR=$build
shopt -s nullglob
tests=("$build"/tests/fault/test_fault_*)
if [ ${#tests[@]} -eq 0 ]; then
  echo "fault.sh: no fault tests in $build/tests/fault; build first" >&2
  exit 1
fi
status=0
for ((round = 1; round <= repeat; round++)); do
  for bin in "${tests[@]}"; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    log="$build/$name.fault.log"
    start=$(date +%s)
    # The skew scenario runs twice as long (control + skewed).
    if timeout $((scale * 120 + 300)) "$bin" >"$log" 2>&1; then
      echo "fault: $name ok in $(($(date +%s) - start)) s (scale $scale, round $round)"
      grep -E '^fault ' "$log" | sed 's/^/  /' || true
    else
      echo "fault: $name FAILED (scale $scale, round $round); log $log" >&2
      grep -E '^fault |kept|CHECK FAILED|ERROR|FAILED' "$log" | tail -30 >&2 || true
      status=1
    fi
  done
done
exit $status
