#!/usr/bin/env bash
# bench/run.sh BUILD_DIR [NAME...]: run the benchmark programs built from
# bench/bench_*.c (all of them, or the ones named), each printing its own
# table of figures. Results vary with machine load: run on a quiet machine,
# compare ratios taken in one run, and quote the median of three runs.
set -euo pipefail
build=${1:-build}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/bench_*.c; do names+=("$(basename "$f" .c)"); done
fi
echo "# tock benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for n in "${names[@]}"; do
  bin="$build/bench/$n"
  if [ ! -x "$bin" ]; then
    echo "bench/run.sh: $bin is not built; run 'make build' first" >&2
    exit 1
  fi
  echo "## $n"
  "$bin"
done
