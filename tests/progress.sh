#!/bin/sh
# `revops run` and `revops trigger` on a terminal: a status line per pipeline
# (step, rows and chunks per input, deliveries, elapsed time) redrawn in place
# at most ~10 times a second, a final line per pipeline that stays, log lines
# that never mix with it; and nothing of it on a pipe or file, with
# log.format = json, TERM=dumb or --no-progress.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
export REVOPS_PLUGIN_PATH="$PLUGINS"
db="$TMP/warehouse.db"
"$top_builddir/demo/revops-demo-gen" --out "$db" --seed 42 --as-of 2026-11-01 > /dev/null
# The digest report to a file: standard output is --format json only.
conf() { demo_conf "$db" "$1" "$TMP/findings.jsonl" "$2.in" && sed "s|path = \"-\";|path = \"$TMP/report.txt\";|" "$2.in" > "$2"; }
conf 100 "$TMP/demo.conf"
pty() { TERM=xterm "$PYTHON" "$top_srcdir/tests/pty_run.py" "$@"; }
ESC=$(printf '\033')
CR=$(printf '\r')

# What the terminal shows: "\r\033[K" clears the line, "\n" commits it.
# screen TTY_FILE JSON_FILE COLS: the checks as "name: ok" or "name: why".
screen() {
    "$PYTHON" - "$@" <<'PY'
import json, re, sys
raw = open(sys.argv[1], encoding="utf-8", newline="").read()
runs = json.load(open(sys.argv[2]))["runs"]
cols = int(sys.argv[3])
ERASE = "\r\x1b[K"
# Every status draw is ERASE + text up to the next ERASE or newline.
draws, committed, cur = [], [], ""
for i, part in enumerate(raw.split(ERASE)):
    if i > 0:
        cur = ""
    lines = part.split("\n")
    if i > 0 and len(lines) == 1 and lines[0]:
        draws.append(lines[0])
    cur += lines[0]
    for l in lines[1:]:
        committed.append(cur)
        cur = l
def say(name, bad):
    print("%s: %s" % (name, "ok" if not bad else bad))
say("drawn", "" if draws else "no status line drawn")
# The live line showed each input's real totals (as --format json counts them).
missing = []
for r in runs:
    for x in r["inputs"]:
        want = "%s: gather " % r["pipeline"]
        tail = " | %s %d rows (%d chunk%s)" % (x["input"], x["rows"], x["chunks"], "" if x["chunks"] == 1 else "s")
        if not any(d.startswith(want) and tail in d for d in draws):
            missing.append(r["pipeline"] + tail)
say("live rows", missing[:3])
# Deliveries in the act step.
missing = ["%s %s" % (r["pipeline"], a["action"]) for r in runs for a in r["actions"]
           if not any(d.startswith(r["pipeline"] + ": act ") and " | %s %d/" % (a["action"], a["delivered"]) in d
                      for d in draws)]
say("live deliveries", missing[:3])
# The final lines stay: one per pipeline, in order, with the run's figures.
finals = [l for l in committed if re.match(r"^\S+: \S+( \(dry run\))? in \d+\.\d\ds \| ", l)]
bad = []
if [f.split(":")[0] for f in finals] != [r["pipeline"] for r in runs]:
    bad.append("pipelines %r" % [f.split(":")[0] for f in finals])
for r, f in zip(runs, finals):
    for x in r["inputs"]:
        t = "| %s %d rows (%d chunk%s)" % (x["input"], x["rows"], x["chunks"], "" if x["chunks"] == 1 else "s")
        if t not in f: bad.append(t)
    if " | %d finding" % r["findings"] not in f or not f.startswith("%s: %s in " % (r["pipeline"], r["status"])):
        bad.append(f)
say("final lines", bad[:3])
# Nothing but log lines and final lines stays on the screen: no status text
# glued to a log line, no status line left at the end.
glued = [l for l in committed if l not in finals and not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info|warn|error|debug) ", l)]
say("clean screen", glued[:3] or (("left behind: %r" % cur) if cur else ""))
say("fits", [d for d in draws if len(d) > cols - 1][:2])
# Live: the elapsed time moves within one step.
el = {}
for d in draws:
    m = re.match(r"^(\S+): (\w+) (\d+\.\d)s", d)
    if m: el.setdefault((m.group(1), m.group(2)), set()).add(m.group(3))
say("ticking", "" if any(len(v) >= 4 for v in el.values()) else "few elapsed values per step: %r" % el)
print("draws %d" % len(draws))
PY
}

# 1. The demo on a terminal (120 columns), stdout a file.
code=$(pty "$TMP/tty" "$TMP/out.json" "$REVOPS" run -c "$TMP/demo.conf" --format json)
is "$code" 0 "the demo runs on a terminal: exit 0"
screen "$TMP/tty" "$TMP/out.json" 120 > "$TMP/screen"
like "$TMP/screen" "drawn: ok" "a status line is drawn with \\r and erase-line"
like "$TMP/screen" "live rows: ok" "the status line shows each input's rows and chunks, the same numbers as --format json"
like "$TMP/screen" "live deliveries: ok" "and each action's deliveries in the act step"
like "$TMP/screen" "final lines: ok" "one final line per pipeline stays, with its status, rows per input and findings"
like "$TMP/screen" "clean screen: ok" "log lines never mix with the status line, and none is left behind"
like "$TMP/screen" "fits: ok" "the status line is cut to the terminal's width"
unlike "$TMP/out.json" "$ESC" "standard output (a file) gets no escape codes"

# 2. A narrow terminal, and rows_per_chunk = 1: 36248 chunks for one input,
# yet the line is redrawn about ten times a second.
conf 1 "$TMP/slow.conf"
t0=$(date +%s.%N)
code=$(pty "$TMP/tty1" "$TMP/out1.json" "$REVOPS" run -c "$TMP/slow.conf" -p health --format json)
t1=$(date +%s.%N)
is "$code" 0 "one chunk per row: exit 0"
screen "$TMP/tty1" "$TMP/out1.json" 120 > "$TMP/screen1"
like "$TMP/screen1" "live rows: ok" "the totals are shown"
draws=$(sed -n 's/^draws //p' "$TMP/screen1")
chunks=$(jget "$TMP/out1.json" "sum(x['chunks'] for x in d['runs'][0]['inputs'])")
limit=$("$PYTHON" -c "import sys; print(int(11 * (float(sys.argv[2]) - float(sys.argv[1]))) + 40)" "$t0" "$t1")
ok "$([ "$draws" -le "$limit" ]; echo $?)" "$draws redraws for $chunks chunks: at most ~10 a second plus one per event ($limit)"
code=$(pty --cols 50 "$TMP/tty8" "$TMP/out8.json" "$REVOPS" run -c "$TMP/demo.conf" -p at_risk --format json)
screen "$TMP/tty8" "$TMP/out8.json" 50 > "$TMP/screen8"
like "$TMP/screen8" "fits: ok" "a 50-column terminal: the status line is cut to 49 columns"
like "$TMP/screen8" "final lines: ok" "... the final line is whole"

# A query that takes most of a second before its first row: the ticker
# keeps the elapsed time moving while nothing else happens.
cat > "$TMP/wait.conf" <<C
state_dir = "$TMP/state";
sources = { warehouse = { plugin = "sqlite"; database = "$db"; }; };
actions = { out = { plugin = "file"; path = "$TMP/wait.jsonl"; }; };
pipelines = { wait = { analysis = "A2"; options = { as_of = "2026-11-01"; };
  inputs = { opportunities = { source = "warehouse"; query =
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000) "
    "SELECT o.opportunity_id, o.sf_account_id, a.sf_account_type_custom AS account_type, "
    "a.account_region, a.sf_industry AS industry, o.owner_id, o.amount, o.closed_at_date, "
    "o.closed_won_lost_reason FROM opportunity_d AS o "
    "LEFT JOIN salesforce_account_d AS a ON a.sf_account_id = o.sf_account_id "
    "WHERE o.stage_name = 'Closed Lost' AND (SELECT count(*) FROM n) > 0 ORDER BY o.opportunity_id"; }; };
  actions = ( "out" ); }; };
C
code=$(pty "$TMP/tty7" "$TMP/out7.json" "$REVOPS" run -c "$TMP/wait.conf" --format json)
is "$code" 0 "a slow query: exit 0"
screen "$TMP/tty7" "$TMP/out7.json" 120 > "$TMP/screen7"
like "$TMP/screen7" "ticking: ok" "the elapsed time moves while the query runs"
like "$TMP/screen7" "clean screen: ok" "... and the screen is clean after"

# 3. Not a terminal: no progress, no escape codes, the log as before.
"$REVOPS" run -c "$TMP/demo.conf" -p at_risk > /dev/null 2> "$TMP/err"
like "$TMP/err" "at_risk/- run finished" "stderr to a file: the log lines are there"
unlike "$TMP/err" "$ESC" "... and no escape code"
unlike "$TMP/err" "$CR" "... no carriage return"
unlike "$TMP/err" "at_risk: ok in" "... no final progress line"

# 4. --no-progress, log.format = json, TERM=dumb: quiet on a terminal too.
pty "$TMP/tty2" "$TMP/out2" "$REVOPS" run -c "$TMP/demo.conf" -p at_risk --no-progress > /dev/null
like "$TMP/tty2" "at_risk/- run finished" "--no-progress on a terminal: the log is there"
unlike "$TMP/tty2" "$ESC" "... and no progress"
sed 's/^  format = "text";  .*# text | json$/  format = "json";/' "$TMP/demo.conf" > "$TMP/json.conf"
pty "$TMP/tty3" "$TMP/out3" "$REVOPS" run -c "$TMP/json.conf" -p at_risk > /dev/null
like "$TMP/tty3" '"msg":"run finished' "log.format = json on a terminal: JSON log lines"
unlike "$TMP/tty3" "$ESC" "... and no progress to break them"
TERM=dumb "$PYTHON" "$top_srcdir/tests/pty_run.py" "$TMP/tty4" "$TMP/out4" "$REVOPS" run -c "$TMP/demo.conf" -p at_risk > /dev/null
unlike "$TMP/tty4" "$ESC" "TERM=dumb: no progress"

# 5. trigger: the same, and its --no-progress.  Log level warn: no log
# line redraws the status line, the events alone show the totals.
payload='{"triggerType":"manual","analysisType":"A2"}'
code=$(REVOPS_LOG_LEVEL=warn pty "$TMP/tty5" "$TMP/out5.json" "$REVOPS" trigger -c "$TMP/demo.conf" --format json "$payload")
is "$code" 0 "trigger on a terminal: exit 0"
screen "$TMP/tty5" "$TMP/out5.json" 120 > "$TMP/screen5"
like "$TMP/screen5" "live rows: ok" "trigger shows the status line with the real rows (log level warn)"
like "$TMP/screen5" "live deliveries: ok" "... and the deliveries"
like "$TMP/screen5" "final lines: ok" "and the final line"
pty "$TMP/tty6" "$TMP/out6" "$REVOPS" trigger -c "$TMP/demo.conf" --no-progress "$payload" > /dev/null
like "$TMP/tty6" "lost_reasons/- run finished" "trigger --no-progress: the log is there"
unlike "$TMP/tty6" "$ESC" "... and no progress"
done_testing
