#!/bin/sh
# A2 on the generated demo warehouse agrees with an independent SQL computation
# of the same rule (tests/a2_independent.sql), with the planted truth the
# generator wrote (100% recall and precision over (account type, top reason)),
# and with itself whatever the chunk size.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
GEN="$top_builddir/demo/revops-demo-gen"

# a2_input [ORDER]: the shipped named query (config/queries.conf), or the same
# query with another ORDER BY.
a2_input() {
    if [ -z "$1" ]; then echo 'named_query = "a2_closed_lost";'; return; fi
    cat <<EOF
query =
        "SELECT o.opportunity_id, o.sf_account_id, a.sf_account_type_custom AS account_type, "
        "a.account_region, a.sf_industry AS industry, o.owner_id, o.amount, o.closed_at_date, "
        "o.closed_won_lost_reason FROM opportunity_d AS o "
        "LEFT JOIN salesforce_account_d AS a ON a.sf_account_id = o.sf_account_id "
        "WHERE o.stage_name = 'Closed Lost' "
        "AND o.closed_at_date >= date(\${as_of}, 'start of month', '-' || (2 * \${window_months}) || ' months') "
        "AND o.closed_at_date < \${as_of} ORDER BY $1";
EOF
}
# a2_conf DB RPC FINDINGS OUT [ORDER]: one sqlite source, the A2 pipeline grouped by
# account type and region, every finding to a JSONL file.
a2_conf() {
    cat > "$4" <<EOF
state_dir = "$TMP/state";
query_library = "$top_srcdir/config/queries.conf";
log = { level = "info"; };
sources = { warehouse = { plugin = "sqlite"; database = "$1"; rows_per_chunk = $2; }; };
actions = { out = { plugin = "file"; path = "$3"; }; };
pipelines = {
  closed_lost = {
    analysis = "A2";
    options = { as_of = "2026-11-01"; group_by = [ "account_type", "region" ]; };
    inputs = {
      opportunities = { source = "warehouse"; $(a2_input "$5") };
    };
    actions = ( { action = "out"; min_priority = "low"; } );
  };
};
EOF
}

for seed in 42 7; do
    db="$TMP/w$seed.db"
    "$GEN" --out "$db" --seed $seed --as-of 2026-11-01 > "$TMP/gen.out" 2>&1
    is "$?" 0 "seed $seed: warehouse generated"

    # The independent computation: one tab-separated line per reported group.
    sqlite3 -readonly -batch -bail -noheader -list -separator "$(printf '\t')" "$db" \
        < "$top_srcdir/tests/a2_independent.sql" > "$TMP/sql$seed.txt" 2> "$TMP/sql.err"
    is "$?" 0 "seed $seed: the independent SQL runs"
    test -s "$TMP/sql$seed.txt"; ok $? "seed $seed: the SQL rule reports groups ($(wc -l < "$TMP/sql$seed.txt"))"

    for rpc in 1000 7 1; do
        a2_conf "$db" $rpc "$TMP/f$seed-$rpc.jsonl" "$TMP/c.conf"
        "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run.out" 2> "$TMP/run.err"
        is "$?" 0 "seed $seed, rows_per_chunk $rpc: run ok"
    done
    like "$TMP/run.err" "A2 as of 2026-11-01: window 2025-11-01..2026-10-31 (previous 2024-11-01..2025-10-31)" \
        "seed $seed: the window is the 12 months before as_of, as in the truth"

    # What revops found against the SQL: the same groups, top reasons and counts,
    # amounts to the cent; share and trend values consistent with those counts.
    "$PYTHON" - "$TMP/f$seed-1000.jsonl" "$TMP/sql$seed.txt" > "$TMP/diff" <<'PY'
import json, re, sys
found = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = json.loads(line)
    assert f["analysis"] == "A2" and f["category"] == "closed_lost_pattern", f
    s = {x["name"]: x for x in f["signals"]}
    m = re.match(r'top reason "(.*)": (\d+) of (\d+) closed-lost', s["top_reason_share"]["evidence"])
    ru = re.search(r'runner-up "(.*)" (\d+)', s["top_reason_share"]["evidence"])
    p = re.search(r': "(.*)" (\d+) of (\d+) losses', s["top_reason_trend"]["evidence"])
    c = re.match(r"(\d+) of (\d+) losses", s["competitive_loss_share"]["evidence"])
    row = (m.group(3), m.group(1), m.group(2), ru.group(2) if ru else "0", p.group(3), p.group(2),
           c.group(1), str(round(s["amount_lost"]["value"] * 100)))
    found[f["account_id"]] = row
    n, top, prev, prev_top = int(row[0]), int(row[2]), int(row[4]), int(row[5])
    share = 100.0 * top / n
    if abs(s["top_reason_share"]["value"] - share) > 1e-3:
        print("differs: share", f["account_id"], s["top_reason_share"]["value"], share)
    trend = share - 100.0 * prev_top / prev if prev >= 5 else 0.0
    if abs(s["top_reason_trend"]["value"] - trend) > 1e-3:
        print("differs: trend", f["account_id"], s["top_reason_trend"]["value"], trend)
sql = {}
for line in open(sys.argv[2], encoding="utf-8"):
    g, *rest = line.rstrip("\n").split("\t")
    sql[g] = tuple(rest)
for k in sorted(set(found) | set(sql)):
    if found.get(k) != sql.get(k):
        print("differs:", k, "revops", found.get(k), "sql", sql.get(k))
print("groups", len(found), "sql", len(sql))
PY
    n=$(wc -l < "$TMP/sql$seed.txt")
    like "$TMP/diff" "groups $n sql $n" "seed $seed: as many findings as the SQL reports groups"
    unlike "$TMP/diff" "differs:" "seed $seed: every group, top reason, count, trend and amount equals the independent SQL"
    grep -q '^region:' "$TMP/sql$seed.txt"; ok $? "seed $seed: region groups are checked too"

    # Recall and precision against the planted truth: (account type, top reason),
    # with the top count and the type's closed-lost count equal.
    "$PYTHON" - "$db.truth.json" "$TMP/f$seed-1000.jsonl" > "$TMP/pr.txt" <<'PY'
import json, re, sys
a2 = json.load(open(sys.argv[1], encoding="utf-8"))["A2"]
assert a2["window_start"] == "2025-11-01" and a2["window_end"] == "2026-10-31", a2["window_start"]
truth = {(t, v["top_reason"], v["top_count"], v["closed_lost"]) for t, v in a2["by_type"].items()}
found = set()
for line in open(sys.argv[2], encoding="utf-8"):
    f = json.loads(line)
    if not f["account_id"].startswith("account_type:"):
        continue
    ev = [s for s in f["signals"] if s["name"] == "top_reason_share"][0]["evidence"]
    m = re.match(r'top reason "(.*)": (\d+) of (\d+) closed-lost', ev)
    found.add((f["account_id"].split(":", 1)[1], m.group(1), int(m.group(2)), int(m.group(3))))
tp = len(truth & found)
print("recall %.3f precision %.3f (%d planted, %d found)" % (tp / len(truth), tp / len(found) if found else 0, len(truth), len(found)))
PY
    like "$TMP/pr.txt" "recall 1.000 precision 1.000" "seed $seed: $(cat "$TMP/pr.txt")"

    # Chunk size does not change a single finding.
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-7.jsonl"; ok $? "seed $seed: rows_per_chunk 7 gives identical findings"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-1.jsonl"; ok $? "seed $seed: rows_per_chunk 1 gives identical findings"
    # Nor does the order of the rows.
    a2_conf "$db" 7 "$TMP/f$seed-r.jsonl" "$TMP/c.conf" "o.closed_at_date DESC, o.amount, o.opportunity_id DESC"
    "$REVOPS" run -c "$TMP/c.conf" > "$TMP/run.out" 2> "$TMP/run.err"
    is "$?" 0 "seed $seed: rows by date descending: run ok"
    cmp -s "$TMP/f$seed-1000.jsonl" "$TMP/f$seed-r.jsonl"; ok $? "seed $seed: rows in another order give identical findings"
done
done_testing
