#!/bin/sh
# The schema knowledge base (core/kb.c, `revops kb search`): the right table
# docs come first for a task, the BM25 scores and order agree with an
# independent implementation (tests/kb_bm25.py), and a bad knowledge_base is a
# configuration error naming file and line.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
KB="$top_srcdir/config/kb"
printf 'knowledge_base = "%s";\n' "$KB" > "$TMP/kb.conf"

# top QUERY: the heading of the best passage
top() {
    "$REVOPS" kb search -c "$TMP/kb.conf" -n 1 --format json "$1" > "$TMP/top.json" 2> "$TMP/top.err"
    jget "$TMP/top.json" "d['results'][0]['heading']"
}
# The data agent's typical needs -> the table (or analysis) doc it must get.
is "$(top 'daily engine hours consumption per account')" "Table consumption_daily_d > Columns of consumption_daily_d" "usage question -> consumption_daily_d columns"
is "$(top 'committed engine hours of the active contract')" "Table agreement_f > Columns of agreement_f" "commitment question -> agreement_f columns"
is "$(top 'call sentiment from gong')" "Table gong_call_f > Columns of gong_call_f" "call sentiment -> gong_call_f columns"
is "$(top 'slack channel messages of an account')" "Table slack_message_f" "slack activity -> slack_message_f"
is "$(top 'closed lost reason and stage of opportunities' | cut -d' ' -f1-2)" "Table opportunity_d" "loss reasons -> opportunity_d"
is "$(top 'segment accounts by type, region and industry')" "Table salesforce_account_d > Columns of salesforce_account_d" "segmentation -> salesforce_account_d columns"
is "$(top 'upsell utilization of committed capacity')" "Analysis A3 upsell opportunities" "upsell task -> the A3 doc"
is "$(top 'firebolt DATE_ADD date arithmetic dialect')" "Date conventions and dialects" "dialect question -> date conventions"
"$REVOPS" kb search -c "$TMP/kb.conf" -n 5 --format json "competitor mentioned in losses" > "$TMP/comp.json"
is "$(jget "$TMP/comp.json" "any('A6' in r['heading'] for r in d['results'][:2])")" "True" "competitor question -> the A6 doc among the first two"

# The same ranking and scores as an independent BM25 (tests/kb_bm25.py).
for q in "engine hours per day" "closed_won_lost_reason" "renewal past due stalled opportunity" "Zürich 東京" "sentiment of calls in the last 90 days"; do
    "$REVOPS" kb search -c "$TMP/kb.conf" -n 5 --format json "$q" > "$TMP/r.json" 2>/dev/null
    "$PYTHON" -c 'import json,sys; [print("%.3f\t%s" % (r["score"], r["heading"])) for r in json.load(open(sys.argv[1]))["results"]]' "$TMP/r.json" > "$TMP/revops.txt"
    "$PYTHON" "$top_srcdir/tests/kb_bm25.py" "$KB" "$q" 5 > "$TMP/indep.txt"
    if cmp -s "$TMP/revops.txt" "$TMP/indep.txt"; then ok 0 "BM25 agrees with the independent implementation for '$q' ($(wc -l < "$TMP/indep.txt") hits)"
    else ok 1 "BM25 agrees with the independent implementation for '$q'"; diff "$TMP/revops.txt" "$TMP/indep.txt" | sed 's/^/#   /'; fi
done

# Text output: ranked, with file:line of each passage's heading.
"$REVOPS" kb search -c "$TMP/kb.conf" -n 2 "agreement commitment" > "$TMP/out" 2>&1
is "$?" 0 "kb search: exit 0"
like "$TMP/out" "2 of " "it says how many passages it shows of how many"
like "$TMP/out" "1. " "ranked"
like "$TMP/out" "warehouse.md:" "each hit names its file and line"

# Nothing matches: exit 1, said plainly.
"$REVOPS" kb search -c "$TMP/kb.conf" "xyzzy plugh" > "$TMP/none" 2>&1
is "$?" 1 "no passage matches: exit 1"
like "$TMP/none" "0 of " "and says so"

# Configuration errors.
printf 'knowledge_base = "nope";\n' > "$TMP/bad.conf"
"$REVOPS" check-config -c "$TMP/bad.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 78 "a missing knowledge_base: exit 78"
like "$TMP/err" "$TMP/bad.conf:1: knowledge_base: knowledge base $TMP/nope: No such file or directory" "the error names file, line and path"
mkdir "$TMP/empty"
printf 'knowledge_base = "empty";\n' > "$TMP/empty.conf"
"$REVOPS" check-config -c "$TMP/empty.conf" > "$TMP/out" 2> "$TMP/err"
like "$TMP/err" "no markdown (*.md) passages found" "a knowledge base without documents is refused"
printf 'state_dir = "/tmp";\n' > "$TMP/nokb.conf"
"$REVOPS" kb search -c "$TMP/nokb.conf" "usage" > "$TMP/out" 2> "$TMP/err"
is "$?" 78 "kb search without knowledge_base: exit 78"
like "$TMP/err" "has no knowledge_base setting" "and says which setting is missing"
"$REVOPS" kb search -c "$TMP/kb.conf" > "$TMP/out" 2> "$TMP/err"
is "$?" 64 "kb search without a query: usage error"

# A small document: headings nest, code fences are not headings, a file alone works.
cat > "$TMP/one.md" <<'MD'
# Title
intro words
## Alpha table
alpha_beta_gamma column
```
# not a heading
```
### Alpha details
details here
MD
printf 'knowledge_base = "one.md";\n' > "$TMP/one.conf"
"$REVOPS" kb search -c "$TMP/one.conf" -n 5 --format json "beta" > "$TMP/one.json"
is "$(jget "$TMP/one.json" "[r['heading'] for r in d['results']], d['passages']")" "(['Alpha table'], 3)" \
   "snake_case parts are terms; a fenced '#' line is not a heading; 3 passages"
"$REVOPS" kb search -c "$TMP/one.conf" -n 5 --format json "details" > "$TMP/one2.json"
is "$(jget "$TMP/one2.json" "[r['heading'] for r in d['results']]")" "['Alpha table > Alpha details']" "a sub-heading's passage is named by its path"

# The demo configuration has the knowledge base.
"$REVOPS" kb search -c "$top_srcdir/config/demo.conf" -n 1 "usage" > "$TMP/demo.out" 2>&1
is "$?" 0 "config/demo.conf: kb search works"
done_testing
