#!/usr/bin/python3
"""The A3 rule (docs/analyses/A3.md) computed independently of revops.

    a3_independent.py DB AS_OF [MONTHS GROWTH_MONTHS UTILIZATION_PCT GROWTH_PCT]

Reads the demo warehouse's tables directly with the sqlite3 module (whole
tables, no revops query, no revops code) and prints one line per fired
signal of every account that has no open Upsell/Expansion opportunity:

    account_id high_utilization <average utilisation %>
    account_id steady_growth <growth % from the first to the last month>

sorted by account and signal.  Standard library only.
"""
import datetime
import sqlite3
import sys


def month_index(iso):
    return int(iso[0:4]) * 12 + int(iso[5:7]) - 1


def main():
    db, as_of = sys.argv[1], sys.argv[2]
    months, growth_months = (int(x) for x in (sys.argv[3:5] or (3, 4)))
    util_pct, growth_pct = (float(x) for x in (sys.argv[5:7] or (80, 10)))
    day_before = (datetime.date.fromisoformat(as_of) - datetime.timedelta(days=1)).isoformat()
    m0 = month_index(as_of) - 1          # the last complete month before as_of

    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)

    usage = {}                           # account -> {month index: sum}
    for acct, day, hours in con.execute(
            "SELECT sf_account_id, consumption_date, engine_hours FROM consumption_daily_d"):
        if acct is None or day is None or hours is None or day >= as_of:
            continue
        m = month_index(day)
        if m0 - max(months, growth_months) < m <= m0:
            per = usage.setdefault(acct, {})
            per[m] = per.get(m, 0.0) + float(hours)

    commit = {}
    for acct, c, active, start, end in con.execute(
            "SELECT sf_account_id, committed_engine_hours_monthly, is_active, start_date, end_date "
            "FROM agreement_f"):
        if acct is not None and active == 1 and start and end and start <= day_before <= end \
                and c is not None:
            commit[acct] = commit.get(acct, 0.0) + float(c)

    upsell = {acct for (acct,) in con.execute(
        "SELECT sf_account_id FROM opportunity_d WHERE opportunity_type IN ('Upsell', 'Expansion') "
        "AND (stage_name IS NULL OR stage_name NOT IN ('Closed Won', 'Closed Lost'))")}

    out = []
    for acct in sorted(set(usage) | set(commit)):
        if acct in upsell:
            continue
        u = usage.get(acct, {})
        c = commit.get(acct, 0.0)
        if c > 0:
            avg = sum(100.0 * u.get(m, 0.0) / c for m in range(m0 - months + 1, m0 + 1)) / months
            if avg > util_pct:
                out.append("%s high_utilization %.6f" % (acct, avg))
        g = [u.get(m, 0.0) for m in range(m0 - growth_months + 1, m0 + 1)]
        if g[0] > 0 and all(g[i] > g[i - 1] for i in range(1, len(g))):
            pct = 100.0 * (g[-1] - g[0]) / g[0]
            if pct >= growth_pct:
                out.append("%s steady_growth %.6f" % (acct, pct))
    for line in out:
        print(line)


if __name__ == "__main__":
    main()
