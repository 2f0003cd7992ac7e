#!/usr/bin/python3
"""A5's rule (docs/analyses/A5.md), computed independently of revops: reads the
warehouse with the sqlite3 module, whole table, with its own date and median
code, and prints one line per anomalous day:

    account date kind value median mad

sorted by account and date.  With --margins it prints instead the checked day
that came closest to firing without firing (and the weakest one that fired),
to show how far the planted anomalies are from the thresholds.

usage: a5_independent.py DB AS_OF [--margins] [--window-days 90] [--baseline-weeks 8]
       [--min-points 4] [--z 6] [--min-change-pct 50] [--mad-floor-pct 1]
"""
import argparse
import datetime
import sqlite3
import statistics
import sys

ap = argparse.ArgumentParser()
ap.add_argument("db")
ap.add_argument("as_of")
ap.add_argument("--margins", action="store_true")
ap.add_argument("--window-days", type=int, default=90)
ap.add_argument("--baseline-weeks", type=int, default=8)
ap.add_argument("--min-points", type=int, default=4)
ap.add_argument("--z", type=float, default=6.0)
ap.add_argument("--min-change-pct", type=float, default=50.0)
ap.add_argument("--mad-floor-pct", type=float, default=1.0)
args = ap.parse_args()

as_of = datetime.date.fromisoformat(args.as_of)
win_lo = as_of - datetime.timedelta(days=args.window_days)

# Every usable row of the whole table, summed per (account, day); rows with a
# NULL/unparsable date or value, or a negative value, are skipped.
days = {}
con = sqlite3.connect(args.db)
for acct, date, value in con.execute(
        "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d"):
    if acct is None or acct == "" or date is None or value is None:
        continue
    try:
        d = datetime.date.fromisoformat(str(date)[:10])
        v = float(value)
    except ValueError:
        continue
    if v < 0:
        continue
    key = (str(acct), d)
    days[key] = days.get(key, 0.0) + v

fired = []
closest_miss = None   # (how close, description)
weakest_hit = None
for (acct, d), x in sorted(days.items()):
    if not (win_lo <= d < as_of):
        continue
    base = []
    for k in range(1, args.baseline_weeks + 1):
        b = d - datetime.timedelta(days=7 * k)
        if (acct, b) in days:
            base.append(days[(acct, b)])
    if len(base) < args.min_points:
        continue
    m = statistics.median(base)
    if m <= 0:
        continue
    mad = statistics.median([abs(b - m) for b in base])
    scale = max(1.4826 * mad, args.mad_floor_pct / 100.0 * m)
    z = (x - m) / scale if scale > 0 else (float("inf") if x != m else 0.0)
    change = x / m - 1.0
    # how close to firing: the smaller of the two ratios to their thresholds
    closeness = min(abs(z) / args.z if args.z else float("inf"),
                    abs(change) / (args.min_change_pct / 100.0) if args.min_change_pct else float("inf"))
    desc = "%s %s x=%.2f m=%.2f z=%.1f change=%+.1f%%" % (acct, d, x, m, z, 100 * change)
    if abs(z) >= args.z - 1e-9 and abs(change) >= args.min_change_pct / 100.0 - 1e-9:
        fired.append("%s %s %s %.2f %.2f %.2f" % (acct, d, "spike" if x > m else "drop", x, m, mad))
        if weakest_hit is None or closeness < weakest_hit[0]:
            weakest_hit = (closeness, desc)
    elif closest_miss is None or closeness > closest_miss[0]:
        closest_miss = (closeness, desc)

if args.margins:
    if closest_miss:
        print("closest miss %.3f of the thresholds: %s" % closest_miss)
    if weakest_hit:
        print("weakest hit %.3f of the thresholds: %s" % weakest_hit)
else:
    for line in fired:
        print(line)
sys.exit(0)
