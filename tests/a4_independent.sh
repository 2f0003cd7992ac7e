#!/bin/sh
# A4 (customer health) on the generated demo warehouse agrees with an independent SQL
# computation of the rule (tests/a4_independent.sql, written from docs/analyses/A4.md), with
# the planted truth the generator wrote (every account's band and score; 100% recall and
# precision on the watch / at_risk bands), and with itself whatever the chunk size.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
GEN="$top_builddir/demo/revops-demo-gen"

# a4_conf DB RPC FINDINGS OUT: one sqlite source, the A4 pipeline with the shipped
# queries (config/queries.conf), findings as JSON lines.
a4_conf() {
    cat > "$4" <<CONF
state_dir = "$TMP/state";
query_library = "$top_srcdir/config/queries.conf";
sources = { wh = { plugin = "sqlite"; database = "$1"; rows_per_chunk = $2; }; };
actions = { out = { plugin = "file"; path = "$3"; }; };
pipelines = {
  health = {
    analysis = "A4";
    options = { as_of = "2026-11-01"; };
    inputs = {
      accounts = { source = "wh"; named_query = "a4_accounts"; };
      usage = { source = "wh"; named_query = "a4_usage"; };
      opportunities = { source = "wh"; named_query = "a4_opportunities"; };
      calls = { source = "wh"; named_query = "a4_calls"; };
      messages = { source = "wh"; named_query = "a4_messages"; };
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
CONF
}

for seed in 42 7; do
    db="$TMP/w$seed.db"
    "$GEN" --out "$db" --seed $seed --as-of 2026-11-01 > "$TMP/gen.out" 2>&1
    is "$?" 0 "seed $seed: warehouse generated"

    # The independent computation: "account U S E P health band" per account.
    sqlite3 -separator ' ' "$db" < "$top_srcdir/tests/a4_independent.sql" > "$TMP/sql$seed.txt"
    is "$(wc -l < "$TMP/sql$seed.txt" | tr -d ' ')" "$(sqlite3 "$db" 'SELECT COUNT(*) FROM salesforce_account_d')" \
        "seed $seed: the SQL rule scores every account"

    # The generator's truth (computed from its own model) against the SQL on its database.
    "$PYTHON" - "$db.truth.json" "$TMP/sql$seed.txt" > "$TMP/truth.txt" <<'PY'
import json, sys
a4 = json.load(open(sys.argv[1], encoding="utf-8"))["A4"]
sql = {}
for line in open(sys.argv[2], encoding="utf-8"):
    acct, u, s, e, p, h, band = line.split()
    sql[acct] = (float(h), band)
bad = [a for a in set(sql) | set(a4["bands"])
       if a not in sql or a not in a4["bands"] or a4["bands"][a] != sql[a][1]
       or abs(a4["scores"][a] - sql[a][0]) > 0.01]
for a in sorted(bad):
    print("differs:", a, "truth", a4["bands"].get(a), a4["scores"].get(a), "sql", sql.get(a))
planted = [(e["account"], k) for k in ("healthy", "watch", "at_risk") for e in a4[k]]
off = [(a, k) for a, k in planted if a4["bands"][a] != k]
print("truth %d accounts, sql %d, %d differ; planted %d, %d outside their band; bands %s"
      % (len(a4["bands"]), len(sql), len(bad), len(planted), len(off), a4["band_counts"]))
PY
    unlike "$TMP/truth.txt" "differs:" "seed $seed: every truth band and score equals the SQL rule ($(tail -1 "$TMP/truth.txt"))"
    like "$TMP/truth.txt" " 0 outside their band" "seed $seed: the planted examples are in their bands"

    for rpc in 1000 7 1; do
        a4_conf "$db" $rpc "$TMP/f$seed-$rpc.jsonl" "$TMP/c.conf"
        "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run.out" 2> "$TMP/run$rpc.err"
        is "$?" 0 "seed $seed, rows_per_chunk $rpc: run ok"
    done
    counts=$("$PYTHON" -c 'import json,sys; c=json.load(open(sys.argv[1]))["A4"]["band_counts"]; print("%d healthy, %d watch, %d at_risk" % (c["healthy"], c["watch"], c["at_risk"]))' "$db.truth.json")
    like "$TMP/run1000.err" "200 accounts: $counts" "seed $seed: the band summary is logged ($counts)"

    # What revops found against the SQL: the same accounts outside the healthy band, the same
    # band (medium = watch, high/critical = at_risk), components within 0.01, health (from the
    # score, 1 - health/100) within 0.01, critical exactly when health < 15.
    "$PYTHON" - "$TMP/f$seed-1000.jsonl" "$TMP/sql$seed.txt" > "$TMP/diff" <<'PY'
import json, sys
names = {"usage_trend": 0, "call_sentiment": 1, "slack_engagement": 2, "open_pipeline": 3}
found = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    assert f["analysis"] == "A4" and f["category"] == "customer_health", f
    comps = [None] * 4
    for s in f["signals"]:
        comps[names[s["name"]]] = s["value"]
    found[f["account_id"]] = (comps, 100.0 * (1.0 - f["score"]), f["priority"])
sql = {}
for line in open(sys.argv[2], encoding="utf-8"):
    acct, u, s, e, p, h, band = line.split()
    if band != "healthy":
        sql[acct] = ([float(u), float(s), float(e), float(p)], float(h), band)
band_of = {"medium": "watch", "high": "at_risk", "critical": "at_risk"}
for a in sorted(set(found) | set(sql)):
    if a not in found or a not in sql:
        print("differs:", a, "revops", found.get(a), "sql", sql.get(a))
        continue
    (fc, fh, fp), (sc, sh, sb) = found[a], sql[a]
    if band_of[fp] != sb or (fp == "critical") != (sh < 15) or abs(fh - sh) > 0.01 \
            or any(x is None or abs(x - y) > 0.01 for x, y in zip(fc, sc)):
        print("differs:", a, "revops", found[a], "sql", sql[a])
print("findings", len(found), "sql", len(sql))
PY
    n=$(awk '$7 != "healthy"' "$TMP/sql$seed.txt" | wc -l | tr -d ' ')
    like "$TMP/diff" "findings $n sql $n" "seed $seed: as many findings as the SQL has watch/at_risk accounts ($n)"
    unlike "$TMP/diff" "differs:" "seed $seed: every finding's band, components and health equal the independent SQL"

    # Recall and precision against the truth's bands: (account, band) pairs for watch / at_risk.
    "$PYTHON" - "$db.truth.json" "$TMP/f$seed-1000.jsonl" > "$TMP/pr.txt" <<'PY'
import json, sys
bands = json.load(open(sys.argv[1], encoding="utf-8"))["A4"]["bands"]
truth = {(a, b) for a, b in bands.items() if b != "healthy"}
band_of = {"medium": "watch", "high": "at_risk", "critical": "at_risk"}
found = set()
for l in open(sys.argv[2], encoding="utf-8"):
    f = json.loads(l)
    found.add((f["account_id"], band_of.get(f["priority"], "?")))
tp = len(truth & found)
healthy_found = sum(1 for a, _ in found if bands.get(a) == "healthy")
print("recall %.3f precision %.3f (%d watch/at_risk in truth, %d found, %d healthy found)"
      % (tp / len(truth), tp / len(found) if found else 0, len(truth), len(found), healthy_found))
PY
    like "$TMP/pr.txt" "recall 1.000 precision 1.000" "seed $seed: $(cat "$TMP/pr.txt")"
    like "$TMP/pr.txt" " 0 healthy found)" "seed $seed: no healthy account has a finding"

    # Chunk size does not change a single finding.
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-7.jsonl"; ok $? "seed $seed: rows_per_chunk 7 gives identical findings"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-1.jsonl"; ok $? "seed $seed: rows_per_chunk 1 gives identical findings"
done
done_testing
