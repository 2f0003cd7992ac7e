#!/usr/bin/python3
"""The A6 rule (docs/analyses/A6.md) computed independently of revops, straight
from the warehouse with the sqlite3 module, and compared with revops' findings.

    a6_independent.py check DB FINDINGS.jsonl [AS_OF]
        prints "differs: ..." for every number that disagrees, then
        "competitors N found M dominant D"
    a6_independent.py truth DB FINDINGS.jsonl
        compares the findings with DB.truth.json's "A6" section: prints
        "differs: ..." per count, then "recall R precision P (...)"

Standard library only.
"""
import calendar
import datetime
import json
import re
import sqlite3
import sys

COMPETITORS = ["Snowflake", "Databricks", "BigQuery", "Redshift", "ClickHouse"]
WINDOW_MONTHS = 6
DOMINANT_SHARE = 0.40
CRITICAL_SHARE = 0.60
RISING_POINTS = 10.0
MIN_LOSSES = 5


def months_before(day, n):
    total = day.year * 12 + day.month - 1 - n
    y, m = divmod(total, 12)
    m += 1
    return datetime.date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def pattern(name):
    word = r"0-9A-Za-z_"
    return re.compile(r"(?<![%s])%s(?![%s])" % (word, re.escape(name), word), re.IGNORECASE)


PATTERNS = [(c, pattern(c)) for c in COMPETITORS]


def named(*texts):
    found = set()
    for t in texts:
        if t is None:
            continue
        for c, p in PATTERNS:
            if p.search(t):
                found.add(c)
    return found


def compute(db, as_of):
    as_of = datetime.date.fromisoformat(as_of)
    start = months_before(as_of, WINDOW_MONTHS)

    def period(text):
        try:
            d = datetime.date.fromisoformat(text[:10])
        except (TypeError, ValueError):
            return None
        if d >= as_of:
            return None
        return "now" if d >= start else "prev"

    z = lambda: {"losses": 0, "wins": 0, "amount": 0.0, "calls": 0, "messages": 0}
    per = {c: {"now": z(), "prev": z()} for c in COMPETITORS}
    tot = {"now": z(), "prev": z()}
    con = sqlite3.connect(db)
    for stage, amount, closed, reason in con.execute(
            "SELECT stage_name, amount, closed_at_date, closed_won_lost_reason FROM opportunity_d "
            "WHERE stage_name IN ('Closed Won', 'Closed Lost')"):
        p = period(closed)
        names = named(reason)
        if p is None or len(names) != 1:
            continue
        c = names.pop()
        key = "losses" if stage == "Closed Lost" else "wins"
        per[c][p][key] += 1
        tot[p][key] += 1
        if key == "losses":
            per[c][p]["amount"] += float(amount or 0)
    for table, date, texts, key in (("gong_call_f", "call_date", "call_title, call_summary", "calls"),
                                    ("slack_message_f", "message_date", "message_text", "messages")):
        for row in con.execute("SELECT %s, %s FROM %s" % (date, texts, table)):
            p = period(row[0])
            names = named(*row[1:])
            if p is None or not names:
                continue
            tot[p][key] += 1
            for c in names:
                per[c][p][key] += 1
    result = {}
    for c in COMPETITORS:
        n, b = per[c]["now"], per[c]["prev"]
        if not any(n.values()) and not any(b.values()):
            continue
        s_now = n["losses"] / tot["now"]["losses"] if tot["now"]["losses"] else 0.0
        s_prev = b["losses"] / tot["prev"]["losses"] if tot["prev"]["losses"] else 0.0
        dominant = tot["now"]["losses"] >= MIN_LOSSES and s_now >= DOMINANT_SHARE - 1e-9 and s_now > s_prev + 1e-9
        rising = n["losses"] > 0 and (s_now - s_prev) * 100 >= RISING_POINTS - 1e-9
        prio = ("critical" if s_now >= CRITICAL_SHARE - 1e-9 else "high") if dominant else \
            "medium" if rising else "low"
        result[c] = {"now": n, "prev": b, "total_now": tot["now"]["losses"],
                     "total_prev": tot["prev"]["losses"], "share_now": s_now, "share_prev": s_prev,
                     "priority": prio}
    return result


def read_findings(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        f = json.loads(line)
        name = f["account_name"]
        if f["account_id"] != "competitor:" + name or f["category"] != "competitor" or name in out:
            print("differs: unexpected finding %s / %s / %s" % (f["account_id"], name, f["category"]))
            continue
        out[name] = f
    return out


def signals(f):
    return {s["name"]: s for s in f["signals"]}


def losses_from(f):
    """(now, total now, prev, total prev) as the evidence states them."""
    s = signals(f)
    m1 = re.match(r"(\d+) of (\d+) competitive losses", s["loss_share"]["evidence"])
    m2 = re.search(r"\): (\d+) of (\d+) competitive losses", s["loss_share_change"]["evidence"])
    return tuple(int(x) for x in (m1.group(1), m1.group(2), m2.group(1), m2.group(2)))


def check(db, findings, as_of):
    want = compute(db, as_of)
    got = read_findings(findings)
    for c in sorted(set(want) | set(got)):
        if c not in got or c not in want:
            print("differs: %s: %s" % (c, "no finding" if c not in got else "finding for an inactive competitor"))
            continue
        w, f, s = want[c], got[c], signals(got[c])
        checks = [
            ("losses now/total/prev/total", losses_from(f),
             (w["now"]["losses"], w["total_now"], w["prev"]["losses"], w["total_prev"])),
            ("loss_share", round(s["loss_share"]["value"], 2), round(100 * w["share_now"], 2)),
            ("loss_share_change", round(s["loss_share_change"]["value"], 2),
             round(100 * (w["share_now"] - w["share_prev"]), 2)),
            ("priority", f["priority"], w["priority"]),
            ("call_mentions", (s["call_mentions"]["value"], s["call_mentions"]["threshold"]) if "call_mentions" in s else (0, 0),
             (w["now"]["calls"], w["prev"]["calls"])),
            ("slack_mentions", (s["slack_mentions"]["value"], s["slack_mentions"]["threshold"]) if "slack_mentions" in s else (0, 0),
             (w["now"]["messages"], w["prev"]["messages"])),
            ("amount_lost", round(s["amount_lost"]["value"], 2) if "amount_lost" in s else 0.0,
             round(w["now"]["amount"], 2)),
        ]
        decided = w["now"]["wins"] + w["now"]["losses"]
        checks.append(("win_rate", round(s["win_rate"]["value"], 2) if "win_rate" in s else None,
                       round(100.0 * w["now"]["wins"] / decided, 2) if decided else None))
        for name, g, e in checks:
            if g != e:
                print("differs: %s %s: revops %r, independent %r" % (c, name, g, e))
    dom = sorted(c for c in got if got[c]["priority"] in ("high", "critical"))
    print("competitors %d found %d dominant %s" % (len(want), len(got), ",".join(dom) or "-"))


def truth(db, findings):
    t = json.load(open(db + ".truth.json", encoding="utf-8"))["A6"]
    got = read_findings(findings)
    for c in t["competitors"]:
        f = got.get(c)
        now, _, prev, _ = losses_from(f) if f else (0, 0, 0, 0)
        if now != t["window_counts"][c]:
            print("differs: %s window count: revops %d, truth %d" % (c, now, t["window_counts"][c]))
        if prev != t["previous_counts"][c]:
            print("differs: %s previous count: revops %d, truth %d" % (c, prev, t["previous_counts"][c]))
    planted = {t["dominant_competitor"]}
    found = {c for c, f in got.items() if f["priority"] in ("high", "critical")}
    tp = len(planted & found)
    print("recall %.3f precision %.3f (planted %s, flagged dominant %s)" % (
        tp / len(planted), tp / len(found) if found else 0.0, ",".join(sorted(planted)),
        ",".join(sorted(found)) or "-"))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "2026-11-01")
    elif len(sys.argv) == 4 and sys.argv[1] == "truth":
        truth(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
