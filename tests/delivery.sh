#!/bin/sh
# What a sink gets for each delivery (ABI 1.4): a delivery id that is the
# same whenever the same finding goes to the same action instance again
# (sha256 of fingerprint and action name, 32 hex), and message templates
# filled through host->render.  The test action tp_flaky writes
# "fingerprint account delivery-id message" per delivery.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so tp_flaky_action.so
cat > "$TMP/d.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
sources = { gen = { plugin = "tp_rows"; rows = 5; }; };
actions = { alerts = { plugin = "tp_flaky"; path = "$TMP/out.txt"; message = "{{account_name}}: {{priority}}"; }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( { action = "alerts"; min_priority = "low"; } ); }; };
C
"$REVOPS" run -c "$TMP/d.conf" > /dev/null 2> "$TMP/err"; is "$?" 0 "first run delivers"
"$REVOPS" run -c "$TMP/d.conf" > /dev/null 2> "$TMP/err"; is "$?" 0 "second run delivers again (no outbox yet)"
n=$(wc -l < "$TMP/out.txt" | tr -d ' ')
ok "$([ "$n" -ge 2 ]; echo $?)" "deliveries recorded ($n)"
"$PYTHON" - "$TMP/out.txt" > "$TMP/check" <<'PY'
import hashlib, sys
rows = [l.split(" ", 3) for l in open(sys.argv[1])]
bad = [r for r in rows if r[2] != hashlib.sha256((r[0] + "\nalerts").encode()).hexdigest()[:32]]
ids = {}
for r in rows:
    ids.setdefault(r[0], set()).add(r[2])
print("bad ids: %d; fingerprints with more than one id: %d; messages: %s" % (
    len(bad), sum(len(v) > 1 for v in ids.values()), all(r[3].strip() == "%s: %s" % (r[1], r[3].split(": ")[1].strip()) for r in rows)))
PY
is "$(cat "$TMP/check")" "bad ids: 0; fingerprints with more than one id: 0; messages: True" \
    "each delivery id is sha256(fingerprint, action)[:32], the same on both runs; the template was filled"
like "$TMP/out.txt" "acct-003 $(sed -n 's/.*acct-003 \([0-9a-f]*\) .*/\1/p' "$TMP/out.txt" | head -1) acct-003: " "the message names the account"
done_testing
