#!/usr/bin/env bash
# run-standalone.sh: what `make run` starts: tock standalone with the
# example config of examples/, on a SQLite file in a state directory.
#
#   scripts/run-standalone.sh [BUILD_DIR]      (default: build)
#
# State directory: $TOCK_RUN_DIR if set, else ./run in the repository
# (created 0700). It holds tock.db (the store), standalone.json (the
# example config with its two placeholders filled in: see
# examples/README.md) and ticks.log (what the example job appends to).
# Running it again continues where the last run stopped: the jobs are in
# tock.db, and applying the same config again changes nothing.
#
# Stop it with Ctrl-C: running tasks finish (up to 30 s), then it exits 0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
state=${TOCK_RUN_DIR:-$root/run}
tock=$build/tock

if [ ! -x "$tock" ]; then
    echo "run-standalone.sh: $tock is not built; run 'make run' (or 'make build') first" >&2
    exit 1
fi
mkdir -p "$state"
chmod 0700 "$state"
state=$(cd "$state" && pwd)

# sed with '|' as the delimiter: refuse paths that would break it.
case "$root$state" in
    *'|'*|*'&'*|*'\'*)
        echo "run-standalone.sh: the paths '$root' and '$state' must not contain | & or \\" >&2
        exit 1 ;;
esac
sed -e "s|@EXAMPLES_DIR@|$root/examples|g" -e "s|@STATE_DIR@|$state|g" \
    "$root/examples/standalone.json" > "$state/standalone.json.tmp"
mv "$state/standalone.json.tmp" "$state/standalone.json"

args=(standalone --store "sqlite:$state/tock.db" --config "$state/standalone.json")
if [ "$(id -u)" -eq 0 ]; then
    echo "run-standalone.sh: WARNING: running as root, so the example handlers run as root" >&2
    echo "run-standalone.sh: (tock refuses that without --allow-root; use a dedicated user in production)" >&2
    args+=(--allow-root)
fi

cat >&2 <<MSG
tock standalone: the job "tick" fires every 2 s and appends to $state/ticks.log,
the job "minutely" fires at second 0 of every minute. Each firing and each
result is printed below. Ctrl-C stops. In another terminal:
  $tock runs --store sqlite:$state/tock.db      # the run history
  tail -f $state/ticks.log
MSG
exec "$tock" "${args[@]}"
