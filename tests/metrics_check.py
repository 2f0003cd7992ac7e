"""tests/metrics.sh's reader of /metrics, with the real Prometheus parser
(Debian's python3-prometheus-client), and the expected values computed
independently from the run records (the JSON `revops run --format json`
printed).

  metrics_check.py dump METRICS             every sample, one per line: name {labels} value
  metrics_check.py check METRICS RECORD...  per family: NAME<TAB>got<TAB>want
  metrics_check.py coverage RECORD...       what the records exercise
"""
import json
import sys
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families


def families(path):
    with open(path, encoding="utf-8") as f:
        return list(text_string_to_metric_families(f.read()))


def records(paths):
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            d = json.load(f)
        out.extend(d["runs"] if isinstance(d, dict) and "runs" in d else d if isinstance(d, list) else [d])
    return out


def ts(s):
    import calendar
    import time
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def expected(recs):
    e = defaultdict(lambda: defaultdict(float))
    for r in recs:
        p = r["pipeline"]
        e["revops_runs"][(p, r["status"])] += 1
        e["revops_run_duration_seconds:count"][(p,)] += 1
        e["revops_run_duration_seconds:sum"][(p,)] += r["seconds"]
        for step, v in r["steps"].items():
            e["revops_step_seconds"][(p, step)] += v
        for i in r["inputs"]:
            k = (p, i["input"], i["source"])
            e["revops_rows_read"][k] += i["rows"]
            e["revops_chunks"][k] += i["chunks"]
            e["revops_input_retries"][k] += max(i["attempts"] - 1, 0)
            e["revops_input_partial"][k] += 1 if i["partial"] else 0
        for prio, n in r["findings_by_priority"].items():
            e["revops_findings"][(p, prio)] += n
        for a in r["actions"]:
            k = (p, a["action"])
            e["revops_deliveries"][k + ("delivered",)] += a["delivered"]
            e["revops_deliveries"][k + ("failed",)] += a["failed"] - a["deferred"]
            e["revops_deliveries"][k + ("pending",)] += a["deferred"]
            e["revops_deliveries"][k + ("suppressed",)] += a["suppressed"]
            e["revops_deliveries"][k + ("held",)] += a["held"]
            e["revops_delivery_retries"][k] += a["retried"]
        m = r.get("model") or {}
        for ses in (m.get("session"), m.get("agent_model")):
            if not ses:
                continue
            e["revops_model_calls"][(p,)] += ses["calls"]
            e["revops_model_tokens"][(p, "in")] += ses["input_tokens"]
            e["revops_model_tokens"][(p, "out")] += ses["output_tokens"]
            e["revops_model_http_retries"][(p,)] += sum(c["http_retries"] for c in ses["call_log"])
        end = ts(r["started_at"]) + r["seconds"]
        k = (p,)
        e["revops_last_run_timestamp_seconds"][k] = max(e["revops_last_run_timestamp_seconds"][k], end)
        if r["status"] == "ok":
            e["revops_last_success_timestamp_seconds"][k] = max(e["revops_last_success_timestamp_seconds"][k], end)
    return e


LABELS = {
    "revops_runs": ("pipeline", "status"),
    "revops_step_seconds": ("pipeline", "step"),
    "revops_rows_read": ("pipeline", "input", "source"),
    "revops_chunks": ("pipeline", "input", "source"),
    "revops_input_retries": ("pipeline", "input", "source"),
    "revops_input_partial": ("pipeline", "input", "source"),
    "revops_findings": ("pipeline", "priority"),
    "revops_deliveries": ("pipeline", "action", "result"),
    "revops_delivery_retries": ("pipeline", "action"),
    "revops_model_calls": ("pipeline",),
    "revops_model_tokens": ("pipeline", "direction"),
    "revops_model_http_retries": ("pipeline",),
    "revops_last_run_timestamp_seconds": ("pipeline",),
    "revops_last_success_timestamp_seconds": ("pipeline",),
}


def fmt(d):
    # Rounded so that sums of the record's 3-decimal seconds compare equal
    # whatever order they were added in.
    return repr(sorted((k, round(v, 6)) for k, v in d.items()))


def check(metrics, recs):
    fams = families(metrics)
    byname = {f.name: f for f in fams}
    want = expected(recs)
    for name, labels in LABELS.items():
        got = {}
        f = byname.get(name)
        for s in f.samples if f else []:
            if s.name in (name, name + "_total"):
                got[tuple(s.labels[l] for l in labels)] = s.value
        # Zero series of a family the records never feed (no model) are not
        # required; the ones rendered must match.
        w = {k: v for k, v in want[name].items()}
        print("%s\t%s\t%s" % (name, fmt(got), fmt(w)))
    f = byname.get("revops_run_duration_seconds")
    got_c, got_s, buckets_ok = {}, {}, True
    for s in f.samples if f else []:
        k = (s.labels["pipeline"],)
        if s.name.endswith("_count"):
            got_c[k] = s.value
        elif s.name.endswith("_sum"):
            got_s[k] = s.value
    # Cumulative buckets, +Inf equal to the count.
    per = defaultdict(list)
    for s in f.samples if f else []:
        if s.name.endswith("_bucket"):
            per[s.labels["pipeline"]].append((float(s.labels["le"]), s.value))
    for p, bs in per.items():
        vals = [v for _, v in sorted(bs)]
        buckets_ok &= vals == sorted(vals) and vals[-1] == got_c.get((p,))
    print("revops_run_duration_seconds_count\t%s\t%s" % (fmt(got_c), fmt(want["revops_run_duration_seconds:count"])))
    print("revops_run_duration_seconds_sum\t%s\t%s" % (fmt(got_s), fmt(want["revops_run_duration_seconds:sum"])))
    print("histogram buckets cumulative, +Inf = count\t%s\tTrue" % (buckets_ok and bool(per)))
    # HELP and TYPE for every family: the parser leaves documentation empty
    # and type "unknown" otherwise; each family once (samples together).
    names = [f.name for f in fams]
    bad = [f.name for f in fams if not f.documentation or f.type == "unknown"]
    print("families with HELP and TYPE\t%s\t[]" % bad)
    print("each family once\t%s\t%s" % (len(names), len(set(names))))


def coverage(recs):
    st = sorted({r["status"] for r in recs})
    e = expected(recs)
    print("statuses", st)
    print("input retries", int(sum(e["revops_input_retries"].values())))
    print("partial inputs", int(sum(e["revops_input_partial"].values())))
    print("delivery retries", int(sum(e["revops_delivery_retries"].values())))
    print("failed deliveries", int(sum(v for k, v in e["revops_deliveries"].items() if k[2] == "failed")))
    print("pending deliveries", int(sum(v for k, v in e["revops_deliveries"].items() if k[2] == "pending")))
    print("held deliveries", int(sum(v for k, v in e["revops_deliveries"].items() if k[2] == "held")))
    print("model tokens in", int(e["revops_model_tokens"].get((("at_risk_narrated", "in")), 0)))
    print("model http retries", int(sum(e["revops_model_http_retries"].values())))


def dump(metrics):
    for f in families(metrics):
        for s in f.samples:
            print(s.name, json.dumps(dict(sorted(s.labels.items())), ensure_ascii=False), repr(s.value))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "dump":
        dump(sys.argv[2])
    elif mode == "check":
        check(sys.argv[2], records(sys.argv[3:]))
    else:
        coverage(records(sys.argv[2:]))
