#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS: run every libFuzzer target in BUILD_DIR for
# SECONDS each, starting from its seed corpus in tests/fuzz/corpus/<target>/
# (copied, so the repository is not modified), and print one summary line
# per target. A crash leaves its input in BUILD_DIR/fuzz-artifacts/ and
# fails the run; add such inputs to the seed corpus once fixed.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
art="$build/fuzz-artifacts"
mkdir -p "$art"
status=0
shopt -s nullglob
targets=("$build"/tests/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets in $build/tests/fuzz" >&2
  exit 1
fi
for bin in "${targets[@]}"; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work=$(mktemp -d)
  cp -r "$root/tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  dict=()
  [ -f "$root/tests/fuzz/$name.dict" ] && dict=(-dict="$root/tests/fuzz/$name.dict")
  log="$build/$name.log"
  if "$bin" "$work" -max_total_time="$secs" -rss_limit_mb=2048 \
        -artifact_prefix="$art/$name-" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz: $name ok: ${execs:-?} executions in ${secs}s, corpus $(ls "$work" | wc -l) inputs"
  else
    echo "fuzz: $name FAILED; log $log, artifacts in $art" >&2
    tail -30 "$log" >&2
    status=1
  fi
  rm -rf "$work"
done
exit $status
