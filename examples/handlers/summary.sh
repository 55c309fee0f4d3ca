#!/bin/sh
# summary.sh FILE: the handler of the "minutely" cron job in standalone.json.
#
# Reports how many lines the "tick" job has appended to FILE so far and
# shows the last one: a cheap health check you can read in `tock runs`.
set -eu
file=${1:?usage: summary.sh FILE}
if [ ! -f "$file" ]; then
    echo "no ticks yet ($file does not exist)"
    exit 0
fi
count=$(wc -l < "$file")
echo "$count ticks so far; last: $(tail -n 1 "$file")"
