#!/bin/sh
# tests/a1_truth_check.sh DB [TRUTH]
#
# Runs tests/a1_independent.sql (the A1 rule in plain SQL) on the demo warehouse DB, with the
# as_of date taken from the planted truth (TRUTH, default DB.truth.json), and checks that the
# (account, signal) pairs it finds are exactly the ones in the truth's "A1" section, with the
# same values (decline pct within 0.01, days exact).
#
# Exit 0 when identical; 1 with the differences listed; 2 on a usage or tool error.
# Needs the sqlite3 CLI and /usr/bin/python3 (standard library only).

set -u

prog=a1_truth_check
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DB [TRUTH]" >&2
    exit 2
fi
db=$1
truth=${2:-$1.truth.json}
here=$(cd "$(dirname "$0")" && pwd) || exit 2
sql=$here/a1_independent.sql
python=/usr/bin/python3

for f in "$db" "$truth" "$sql"; do
    if [ ! -r "$f" ]; then
        echo "$prog: $f: cannot read" >&2
        exit 2
    fi
done
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "$prog: sqlite3 CLI not found in PATH" >&2
    exit 2
fi
if [ ! -x "$python" ]; then
    echo "$prog: $python not found" >&2
    exit 2
fi

as_of=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))["as_of"])' "$truth") || {
    echo "$prog: $truth: cannot read as_of" >&2
    exit 2
}
case $as_of in
[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]) ;;
*)
    echo "$prog: $truth: as_of '$as_of' is not YYYY-MM-DD" >&2
    exit 2
    ;;
esac

literal="'2026-11-01' AS as_of"
if [ "$(grep -c "$literal" "$sql")" != 1 ]; then
    echo "$prog: $sql: expected exactly one $literal to substitute" >&2
    exit 2
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/a1_truth_check.XXXXXX") || exit 2
trap 'rm -f "$tmp" "$tmp.err"' EXIT
trap 'exit 2' HUP INT TERM

if ! sed "s/'2026-11-01' AS as_of/'$as_of' AS as_of/" "$sql" |
    sqlite3 -readonly -batch -bail -noheader -list -separator '|' "$db" >"$tmp" 2>"$tmp.err"; then
    echo "$prog: $db: the A1 query failed:" >&2
    cat "$tmp.err" >&2
    exit 2
fi
if [ -s "$tmp.err" ]; then
    echo "$prog: $db: sqlite3 reported:" >&2
    cat "$tmp.err" >&2
    exit 2
fi

"$python" - "$tmp" "$truth" "$db" <<'EOF'
import json
import sys

rows_path, truth_path, db_path = sys.argv[1:4]

found = {}
with open(rows_path, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        line = line.rstrip("\n")
        parts = line.split("|")
        if len(parts) != 3:
            print("a1_truth_check: unexpected SQL output line %d: %r" % (n, line))
            sys.exit(2)
        account, signal, value = parts
        if (account, signal) in found:
            print("a1_truth_check: duplicate SQL row for %s %s" % (account, signal))
            sys.exit(2)
        found[(account, signal)] = float(value)

with open(truth_path, encoding="utf-8") as f:
    truth = json.load(f)
a1 = truth["A1"]
want = {}
for e in a1["usage_decline"]:
    want[(e["account"], "usage_decline")] = float(e["decline_pct"])
for e in a1["renewal_past_due"]:
    key = (e["account"], "renewal_past_due")
    want[key] = max(want.get(key, 0), float(e["days_past_due"]))
for e in a1["stalled_opportunity"]:
    key = (e["account"], "stalled_opportunity")
    want[key] = max(want.get(key, 0), float(e["days_stalled"]))

problems = []
for key in sorted(set(want) - set(found)):
    problems.append("missing  (in truth, not found by SQL): %s %s %g" % (key[0], key[1], want[key]))
for key in sorted(set(found) - set(want)):
    problems.append("extra    (found by SQL, not in truth): %s %s %g" % (key[0], key[1], found[key]))
for key in sorted(set(found) & set(want)):
    tol = 0.01 if key[1] == "usage_decline" else 0.0
    if abs(found[key] - want[key]) > tol + 1e-9:
        problems.append("value    %s %s: SQL %g, truth %g" % (key[0], key[1], found[key], want[key]))

accounts = sorted({k[0] for k in found})
if accounts != sorted(a1["accounts"]):
    problems.append("accounts list differs: SQL %d accounts, truth lists %d" % (len(accounts), len(a1["accounts"])))

if problems:
    print("a1_truth_check: %s (as_of %s): %d difference(s):" % (db_path, truth["as_of"], len(problems)))
    for p in problems:
        print("  " + p)
    sys.exit(1)
counts = {}
for _, signal in found:
    counts[signal] = counts.get(signal, 0) + 1
print("a1_truth_check: OK %s (as_of %s): %d accounts, %d signals (%s) match the truth"
      % (db_path, truth["as_of"], len(accounts), len(found),
         ", ".join("%s %d" % (s, counts[s]) for s in sorted(counts))))
EOF
