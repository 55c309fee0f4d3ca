#!/bin/sh
# summary.sh FILE: the handler of the "minutely" cron job in standalone.json.
#
# Reports how many lines the "tick" job has appended to FILE so far and
# when the last one was scheduled: a cheap health check you can read in
# `tock runs`.
set -eu
file=${1:?usage: summary.sh FILE}
if [ ! -s "$file" ]; then
    echo "no ticks yet ($file is empty or missing)"
    exit 0
fi
count=$(wc -l < "$file")
last=$(tail -n 1 "$file" | cut -d' ' -f2)
echo "$count ticks so far, the last one ${last#scheduled=}"
