#!/bin/sh
# append.sh FILE: the handler of the "tick" job in standalone.json.
#
# Appends one line per execution to FILE and says what it did on stdout
# (tock keeps that as the run's output excerpt). tock hands the task to the
# command as environment variables: TOCK_OCCURRENCE_ID is the occurrence's
# identity ("<job>@<scheduled ms>"), the key a handler uses to make itself
# idempotent; TOCK_ARGS is the job's args as JSON.
set -eu
file=${1:?usage: append.sh FILE}
# One write() per line with O_APPEND: lines from concurrent runs never mix.
printf '%s scheduled=%s attempt=%s args=%s\n' "$TOCK_OCCURRENCE_ID" \
    "$TOCK_SCHEDULED" "$TOCK_ATTEMPT" "$TOCK_ARGS" >> "$file"
echo "line $(wc -l < "$file") of $(basename "$file"): $TOCK_OCCURRENCE_ID, args $TOCK_ARGS"
