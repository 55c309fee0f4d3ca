#!/usr/bin/python3
"""croniter_next.py: the reference side of tock's differential cron test
(tests/unit/test_cron_croniter.c), using Debian's python3-croniter.

usage: croniter_next.py INPUT OUTPUT

Each INPUT line is "EXPR<TAB>START<TAB>COUNT": a cron expression in tock's
syntax, a start time in Unix seconds (UTC) and how many next times to list.
Each OUTPUT line is "OK t1 t2 ..." (Unix seconds, strictly after START, in
order) or "ERR message" when croniter refuses the expression.

tock's syntax is translated to croniter's where they only spell the same
thing differently (docs/time.md, "Differences from croniter"):
  - 6 fields: tock puts seconds first, croniter last;
  - '?' (no specific value) is '*' for croniter, which does not know '?';
  - the last weekday N of the month is 'NL' in tock, 'LN' in croniter.
"""
import re
import sys

from croniter import croniter

LAST_WEEKDAY = re.compile(r"^([0-7])L$", re.IGNORECASE)


def translate(expr):
    fields = expr.split()
    if len(fields) == 6:
        fields = fields[1:] + fields[:1]
    dow = 4
    fields = ["*" if f == "?" else f for f in fields]
    fields[dow] = ",".join(LAST_WEEKDAY.sub(r"L\1", t)
                           for t in fields[dow].split(","))
    return " ".join(fields)


def main():
    with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
        for line in src:
            expr, start, count = line.rstrip("\n").split("\t")
            try:
                it = croniter(translate(expr), float(start))
                times = [str(int(it.get_next(float)))
                         for _ in range(int(count))]
                out.write("OK " + " ".join(times) + "\n")
            except Exception as exc:  # croniter raises several kinds
                msg = str(exc).replace("\n", " ") or type(exc).__name__
                out.write("ERR " + msg + "\n")


if __name__ == "__main__":
    main()
