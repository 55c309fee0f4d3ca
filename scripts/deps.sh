#!/usr/bin/env bash
# deps.sh: install every build, test and runtime dependency of tock from
# Debian packages, when missing. Idempotent and quiet when all is present.
#
#   scripts/deps.sh            build + test + runtime packages
#   scripts/deps.sh --check    only report what is missing (exit 1 if any)
set -euo pipefail

PACKAGES=(
  # build
  cmake make pkg-config gcc libc6-dev
  # libraries libtock links against (see README "Dependencies")
  libhiredis-dev libuv1-dev libmsgpack-dev libsqlite3-dev libjansson-dev
  # tests: cmocka, a real redis-server, valgrind, the sqlite3 shell
  libcmocka-dev redis-server redis-tools valgrind sqlite3
  # fuzzing: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # time zones, and the independent cron implementation the differential
  # trigger test compares against
  tzdata python3 python3-croniter
  # fault tests: skewed clocks for tock's own daemons
  faketime
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages (${missing[*]}); run 'sudo scripts/deps.sh' or install them with apt-get" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
