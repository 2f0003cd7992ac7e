#!/bin/sh
# The email sink through the real binary against a real SMTP server (Debian's
# python3-aiosmtpd, tests/smtp_server.py), findings from tests/plugins/tp_json_findings.c
# (owners, non-ASCII and hostile names): multipart/alternative text + HTML with To, Cc and
# the owner, an RFC 2047 subject that decodes back, the Message-ID made of the delivery id,
# the `sent:` record (a second run sends nothing), digest mode, hostile names escaped in
# the HTML part, no header injection through a template value, 421 retried (RETRY), 550 on
# DATA and on one recipient (ERROR for that finding only), AUTH, address validation at
# open, and the password never in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_json_findings.so email.so

PASSWORD=smtp-pw-7f3a9c2e-do-not-print
export SMTP_PASSWORD="$PASSWORD"

# smtp NAME FD [server args]: start tests/smtp_server.py recording to $TMP/NAME.rec (and
# its refusals to $TMP/NAME.log); stdin a fifo held open on FD; sets NAME_PORT.
smtp() {
    name=$1 fd=$2; shift 2
    fifo="$TMP/$name.fifo"
    mkfifo "$fifo"
    : > "$TMP/$name.rec"
    : > "$TMP/$name.log"
    "$PYTHON" "$top_srcdir/tests/smtp_server.py" --record "$TMP/$name.rec" --log "$TMP/$name.log" "$@" \
        < "$fifo" > "$TMP/$name.port" 2> "$TMP/$name.err" &
    eval "exec $fd> \"\$fifo\""
    for _ in $(seq 100); do
        grep -q PORT "$TMP/$name.port" 2>/dev/null && break
        sleep 0.05
    done
    port=$(sed -n 's/^PORT //p' "$TMP/$name.port")
    [ -n "$port" ] || { echo "Bail out! smtp_server.py did not start: $(cat "$TMP/$name.err")"; exit 1; }
    eval "${name}_PORT=$port"
}
smtp plain 3
smtp rcpt 4 --reject-rcpt Owner.One@example.com
smtp busy 5 --fail-first 1000 --fail-code 421
smtp once 6 --fail-first 1 --fail-code 421
smtp reject 7 --reject
smtp auth 8 --user mailer --password "$PASSWORD"

# The findings: an owner address, a CRM-id owner, a hostile one.
"$PYTHON" - "$TMP/findings.jsonl" <<'PY'
import json, sys
hostile = '<script>alert("x")</script> & \'Co\' <!channel>'
rows = [
    {"account_id": "acct-001", "account_name": "Zürich Datenwerk AG", "owner": "owner.one@example.com",
     "priority": "critical", "score": 0.91, "title": "Überfällig: 東京アナリティクス at risk",
     "description": "Usage fell 40% in 30 days.",
     "signals": [{"name": "usage_drop", "value": 0.4, "threshold": 0.25, "weight": 0.6, "evidence": "logins 120 -> 72"},
                 {"name": "tickets", "value": 9, "threshold": 5, "weight": 0.4, "evidence": "9 open P1 tickets"}],
     "actions": ["Call the sponsor this week", "Review the open P1 tickets"]},
    {"account_id": "acct-002", "account_name": "Plain Co", "owner": "0055g00000AbCdE", "priority": "medium",
     "title": "Plain Co renewal due", "signals": [{"name": "renewal_days", "value": 30, "threshold": 45}],
     "actions": ["Start the renewal"]},
    {"account_id": "acct-003", "account_name": hostile + ("A" * 10000), "owner": "evil@example.com\r\nBcc: x@example.com",
     "priority": "high", "title": "Hostile\r\nBcc: victim@example.com\r\nX-Injected: yes",
     "description": "line one\nline two <b>bold</b>",
     "signals": [{"name": "<img src=x onerror=alert(1)>", "value": 1, "threshold": 0, "evidence": "</td></tr></table><script>bad()</script>"}],
     "actions": ["<a href=\"javascript:alert(1)\">click</a>"]},
]
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY

# conf NAME PORT ACTION-OPTIONS: tp_rows -> tp_json_findings -> the email action "mail".
# outbox = false (unless OUTBOX is set): these tests drive the sink itself on every run, so
# a second run exercises its own `sent:` record rather than the core's outbox.
conf() {
    url="url = \"smtp://127.0.0.1:$2\"; starttls = false;" from='from = "revops <alerts@example.com>";'
    case "$3" in *"url ="*) url=;; esac
    case "$3" in *"from ="*) from=;; esac
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state-$1";
log = { level = "debug"; };
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = 3; };
sources = { gen = { plugin = "tp_rows"; rows = 2; }; };
actions = { mail = { plugin = "email"; ${OUTBOX-outbox = false;} $url $from $3 }; };
pipelines = { p = { analysis = "A5"; options = { path = "${FINDINGS:-$TMP/findings.jsonl}"; };
                    inputs = { rows = { source = "gen"; query = "all"; }; };
                    actions = ( { action = "mail"; min_priority = "low"; } ); }; };
C
}
run() {  # run NAME -> $TMP/NAME.out / .err; status in $rc
    "$REVOPS" run -c "$TMP/$1.conf" --session-id "em_$1" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
}
count() { wc -l < "$TMP/$1" | tr -d ' '; }
# mails REC SCRIPT: run SCRIPT with `ms`, the recorded messages parsed by Python's email package
# (policy default: RFC 2047 decoded), and helpers.
mails() {
    "$PYTHON" - "$TMP/$1" "$2" <<'PY'
import email, email.policy, hashlib, html.parser, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ms = [email.message_from_string(r["data"], policy=email.policy.default) for r in recs]
def by(what):  # the message whose text part or subject holds `what`
    return [m for m in ms if what in m.get_body(("plain",)).get_content() or what in m["subject"]][0]
def text(m): return m.get_body(("plain",)).get_content()
def htm(m): return m.get_body(("html",)).get_content()
def raw_headers(r): return r["data"].split("\n\n", 1)[0] if "\n\n" in r["data"] else r["data"].split("\r\n\r\n", 1)[0]
class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = []
    def handle_starttag(self, tag, attrs): self.tags.append(tag)
def tags(s):
    t = Tags(); t.feed(s); return t.tags
exec(sys.argv[2])
PY
}
no_secret() {  # no_secret NAME: the password is in none of the run's output
    cat "$TMP/$1.out" "$TMP/$1.err" > "$TMP/$1.all"
    unlike "$TMP/$1.all" "$PASSWORD" "$2"
}

# ------------------------------------------------ per finding: the mails as sent
conf plain "$plain_PORT" 'to = [ "Ops Team <ops@example.com>" ]; cc = [ "cfo@example.com" ]; to_owner = true;'
run plain
is "$rc" 0 "three findings mailed (exit 0)"
is "$(count plain.rec)" 3 "three messages accepted by the SMTP server"
is "$(mails plain.rec 'print(sorted(set((m.get_content_type(), tuple(p.get_content_type() for p in m.walk())[1:]) for m in ms)))')" \
    "[('multipart/alternative', ('text/plain', 'text/html'))]" "each is multipart/alternative: text/plain then text/html"
is "$(mails plain.rec 'm = by("acct-001"); print(m["to"], "|", m["cc"], "|", m["from"])')" \
    "Ops Team <ops@example.com>, owner.one@example.com | cfo@example.com | revops <alerts@example.com>" \
    "To: the team and the finding's owner; Cc; From"
is "$(mails plain.rec 'r = [r for r, m in zip(recs, ms) if m is by("acct-001")][0]; print(r["mail_from"], sorted(r["rcpt_tos"]))')" \
    "alerts@example.com ['cfo@example.com', 'ops@example.com', 'owner.one@example.com']" "the envelope: sender and all three recipients"
is "$(mails plain.rec 'print(by("acct-002")["to"])')" "Ops Team <ops@example.com>" "an owner that is a CRM id is not added"
is "$(mails plain.rec 'print(by("acct-001")["subject"])')" "[revops] critical: Überfällig: 東京アナリティクス at risk" \
    "the non-ASCII subject decodes back exactly"
like "$TMP/plain.rec" "Subject: =?UTF-8?B?" "and was sent RFC 2047 encoded"
is "$(mails plain.rec '
ok = []
for m in ms:
    fp = m["x-revops-fingerprint"]; did = hashlib.sha256((fp + "\nmail").encode()).hexdigest()[:32]
    ok.append(m["message-id"] == "<%s.revops@example.com>" % did and m["x-revops-delivery"] == did)
print(ok)')" "[True, True, True]" "Message-ID is <delivery id.revops@sender domain> (delivery id = sha256(fingerprint, action)[:32])"
is "$(mails plain.rec 't = text(by("acct-001")); print("usage_drop: 0.4 (threshold 0.25): logins 120 -> 72" in t, "1. Call the sponsor this week" in t, "Zürich Datenwerk AG (acct-001)" in t)')" \
    "True True True" "the text part: account, signals and actions"
is "$(mails plain.rec 'h = htm(by("acct-001")); print(h.count("<tr><td>"), h.count("<li>"), "<td>logins 120 -&gt; 72</td>" in h, "<th>Signal</th>" in h)')" \
    "2 2 True True" "the HTML part: a table row per signal, a list item per action, evidence escaped"
unlike "$TMP/plain.err" "Summary (written" "no narrative section when the finding has none"
mails plain.rec 'print(text(by("acct-001")))' > "$TMP/plain.text"
unlike "$TMP/plain.text" "Summary" "the text part has no summary section either"

# Hostile names: the HTML part has no tag from the data; the headers gained none.
is "$(mails plain.rec 'h = htm(by("acct-003")); print(sorted(set(tags(h))))')" "['b', 'body', 'h2', 'h3', 'head', 'html', 'li', 'meta', 'ol', 'p', 'table', 'td', 'th', 'tr']" \
    "hostile HTML part: only the layout's own tags (no script, img, a)"
mails plain.rec 'print(htm(by("acct-003")))' > "$TMP/hostile.html"
unlike "$TMP/hostile.html" "<script>" "<script> never appears raw in the HTML part"
like "$TMP/hostile.html" "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39; &lt;!channel&gt;" "the account name arrives escaped"
like "$TMP/hostile.html" "&lt;img src=x onerror=alert(1)&gt;" "a signal name is escaped in the table"
like "$TMP/hostile.html" "&lt;a href=&quot;javascript:alert(1)&quot;&gt;click&lt;/a&gt;" "an action is escaped in the list"
is "$(mails plain.rec 'h = htm(by("acct-003")); print(h.count("A" * 10000) == 1)')" "True" "the 10,000-character name is whole in the body"
is "$(mails plain.rec 'm = by("acct-003"); print(m["bcc"], m["x-injected"], m["to"])')" "None None Ops Team <ops@example.com>" \
    "a title with CR/LF adds no Bcc or X-Injected header; the owner with CR/LF is not used"
is "$(mails plain.rec 'm = by("acct-003"); s = m["subject"]; print(s.startswith("[revops] high: Hostile  Bcc: victim@example.com  X-Injected: yes"), len(s) < 300)')" \
    "True True" "the subject keeps the title on one line"
like "$TMP/plain.err" "owner 'evil@example.com??Bcc: x@example.com' is not used: it holds a line break" "the bad owner is named in a warning"
no_secret plain "no password in the output"

# ------------------------------------------------ the second run sends nothing
run plain
is "$rc" 0 "the second run succeeds"
is "$(count plain.rec)" 3 "and sends nothing: every delivery id is in the sent: record"
like "$TMP/plain.err" "was already sent as <" "it says so"
is "$("$PYTHON" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from sink_state where action=\"mail\" and key like \"sent:%\" and value like \"<%.revops@example.com>\"").fetchone()[0])' "$TMP/state-plain/state.db")" \
    3 "the record: sent:<delivery id> = Message-ID, one per finding"

# With the core's outbox (the default), a second run does not even call the sink.
OUTBOX= conf withoutbox "$plain_PORT" 'to = [ "ops@example.com" ];'
: > "$TMP/plain.rec"
run withoutbox
is "$(count plain.rec)" 3 "outbox on: the first run sends three"
run withoutbox
is "$(count plain.rec)" 3 "outbox on: the second run sends nothing"
like "$TMP/withoutbox.err" "3 already delivered" "(the outbox held them back)"

# A re-alert (the priority rose: occurrence 2, a new delivery id) answers the first mail.
head -2 "$TMP/findings.jsonl" > "$TMP/realert.jsonl"
FINDINGS="$TMP/realert.jsonl" OUTBOX= conf realert "$plain_PORT" 'to = [ "ops@example.com" ]; subject = "[revops] {{priority}} (alert {{occurrence}}): {{account_name}}";'
: > "$TMP/plain.rec"
run realert
sed -i 's/"priority": "medium"/"priority": "critical"/' "$TMP/realert.jsonl"
run realert
is "$(count plain.rec)" 3 "re-alert: the risen finding is mailed again, the other is not"
is "$(mails plain.rec '
a, b = [m for m in ms if "Plain Co" in m["subject"]]
print(b["subject"], "|", b["in-reply-to"] == a["message-id"] and b["references"] == a["message-id"], a["in-reply-to"],
      a["x-revops-delivery"] != b["x-revops-delivery"], b["message-id"] != a["message-id"])')" \
    "[revops] critical (alert 2): Plain Co | True None True True" \
    "the re-alert has its own delivery id and Message-ID, and In-Reply-To/References the first mail"

# ------------------------------------------------ digest
conf digest "$plain_PORT" 'to = [ "ops@example.com" ]; to_owner = true; digest = true;'
: > "$TMP/plain.rec"
run digest
is "$rc" 0 "digest: exit 0"
is "$(count plain.rec)" 1 "one message for the batch"
is "$(mails plain.rec 'm = ms[0]; print(m["subject"]); print(m["to"]); print(sorted(recs[0]["rcpt_tos"]))')" \
    "[revops] 3 findings from p (highest priority critical)
ops@example.com, owner.one@example.com
['ops@example.com', 'owner.one@example.com']" "subject with the count; To: the team and the owners"
is "$(mails plain.rec 't = text(ms[0]); h = htm(ms[0]); print(t.count("== "), all(a in t for a in ("acct-001", "acct-002", "acct-003")), h.count("<h2"), h.count("<hr>"), "<script>" in h)')" \
    "3 True 3 2 False" "the bodies list every finding (text and HTML), escaped"
is "$(mails plain.rec 'print(ms[0]["message-id"].startswith("<digest.") and ms[0]["message-id"].endswith(".revops@example.com>"))')" \
    "True" "digest Message-ID"
run digest
is "$(count plain.rec)" 1 "digest, second run: nothing sent"

# ------------------------------------------------ custom templates
conf tmpl "$plain_PORT" 'to = [ "ops@example.com" ]; subject = "Alert {{account_name}} / {{title}}";
                     text = "Account {{account_name}}: {{actions}}"; html = "<p class=\"x\">{{account_name}}</p><p>{{owner}}</p>";'
: > "$TMP/plain.rec"
run tmpl
is "$(count plain.rec)" 3 "templates: three messages"
is "$(mails plain.rec 'print(htm(by("Plain Co")).strip())')" '<p class="x">Plain Co</p><p>0055g00000AbCdE</p>' "the html template, as written"
is "$(mails plain.rec 'h = htm(by("Hostile")); print(tags(h), "<p class=\"x\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39; &lt;!channel&gt;AAA" in h)')" \
    "['p', 'p'] True" \
    "a hostile value in the html template is escaped: no tag added"
is "$(mails plain.rec 'print(text(by("Plain Co")).strip())')" "Account Plain Co: 1. Start the renewal" "the text template"
is "$(mails plain.rec 'm = by("Hostile"); print(m["bcc"], m["x-injected"], len(m["subject"]) <= 420, m["subject"].endswith("Hostile  Bcc: victim@example.com  X-Injected: yes"))')" \
    "None None True True" "subject template: no injected header; each value cut to 200 characters"

# ------------------------------------------------ one recipient refused (550 on RCPT TO)
conf rcpt "$rcpt_PORT" 'to = [ "ops@example.com" ]; to_owner = true;'
run rcpt
is "$rc" 3 "a refused recipient: exit 3 (some deliveries failed)"
is "$(count rcpt.rec)" 2 "the two other findings are delivered"
like "$TMP/rcpt.err" "(account acct-001) not delivered: mail to ops@example.com via smtp://127.0.0.1:$rcpt_PORT: Failed sending data to the peer (SMTP 550)" \
    "the refused one is an ERROR with the host's reason and the SMTP code"
unlike "$TMP/rcpt.err" "will be retried" "a 550 is final: the core does not retry it"
is "$(grep -ci 'rcpt owner.one@example.com' "$TMP/rcpt.log")" 1 "one attempt: the host takes the 550 for final (libcurl reports it as a send error)"
run rcpt
is "$(count rcpt.rec)" 2 "second run: the delivered two are not sent again"

# ------------------------------------------------ 421: retried, then RETRY
conf busy "$busy_PORT" 'to = [ "ops@example.com" ];'
run busy
is "$rc" 3 "the server stays at 421: exit 3"
is "$(count busy.rec)" 0 "nothing accepted"
like "$TMP/busy.err" "will be retried" "the core retries the deliveries (RETRY)"
like "$TMP/busy.err" "(SMTP 421) (transient; retries exhausted)" "the reason names the 421"
like "$TMP/busy.err" "not sent after an earlier failure" "after a 421 the rest of the batch waits"
n421=$(grep -c '"code": 421' "$TMP/busy.log")
is "$n421" 9 "3 core attempts x 3 host attempts, for the first finding only"
conf once "$once_PORT" 'to = [ "ops@example.com" ];'
run once
is "$rc" 0 "one 421, then accepted: exit 0"
is "$(count once.rec)" 3 "all three delivered, none twice"

# ------------------------------------------------ 550 on DATA: final, per finding
conf reject "$reject_PORT" 'to = [ "ops@example.com" ];'
run reject
is "$rc" 3 "550 on DATA: exit 3"
is "$(grep -c 'not delivered: .*SMTP 550' "$TMP/reject.err")" 3 "each finding an ERROR naming SMTP 550 (one does not stop the others)"
is "$(count reject.log)" 3 "and each tried once: no retry of a 5xx"

# ------------------------------------------------ connection refused
conf down 1 'to = [ "ops@example.com" ];'
run down
is "$rc" 3 "no server: exit 3"
like "$TMP/down.err" "Couldn't connect to server" "RETRY with the connection failure"
like "$TMP/down.err" "not sent after an earlier failure" "the rest of the batch is not tried"

# ------------------------------------------------ AUTH
conf auth "$auth_PORT" 'to = [ "ops@example.com" ]; username = "mailer"; password = "env:SMTP_PASSWORD";'
run auth
is "$rc" 0 "AUTH: delivered"
is "$(mails auth.rec 'print(sorted(set(r["auth"] for r in recs)), len(recs))')" "['mailer'] 3" "the server authenticated the user for each message"
no_secret auth "AUTH: no password in the output (debug log)"
export SMTP_WRONG=wrong-pw-1234
conf authbad "$auth_PORT" 'to = [ "ops@example.com" ]; username = "mailer"; password = "env:SMTP_WRONG";'
run authbad
is "$rc" 3 "a wrong password: exit 3"
like "$TMP/authbad.err" "Login denied" "with the reason"
unlike "$TMP/authbad.err" "wrong-pw-1234" "the wrong password is not shown either"
"$REVOPS" plugins -c "$TMP/auth.conf" > "$TMP/plugins.out" 2>&1
unlike "$TMP/plugins.out" "$PASSWORD" "revops plugins does not show it"
like "$TMP/plugins.out" "digest" "and lists the options"

# ------------------------------------------------ options checked at open
bad() {  # bad NAME ACTION-OPTIONS EXPECTED-MESSAGE DESCRIPTION
    conf "$1" "$plain_PORT" "$2"
    run "$1"
    ok "$([ "$rc" -ne 0 ]; echo $?)" "$4: refused"
    like "$TMP/$1.err" "$3" "$4: says why"
}
bad noat 'to = [ "ops@example.com", "ops.example.com" ];' "option to, entry 2 ('ops.example.com'): not an e-mail address: it has no '@'" \
    "a recipient without '@'"
bad space 'to = [ "ops team@example.com" ];' "option to, entry 1 ('ops team@example.com'): not an e-mail address: it holds a space" \
    "a recipient with a space"
bad crlf 'to = [ "ops@example.com\r\nBcc: x@example.com" ];' "option to, entry 1 ('ops@example.com??Bcc: x@example.com'): not an e-mail address: it holds a line break" \
    "a recipient with CR/LF"
bad ccbad 'to = [ "ops@example.com" ]; cc = [ "Doe, Jane <jane@example.com>" ];' "option cc, entry 1" "a cc with an unquoted comma"
bad frombad 'to = [ "ops@example.com" ]; from = "revops";' "option from ('revops'): not an e-mail address: it has no '@'" "a sender without '@'"
bad nobody 'to_owner = false;' "option to is empty and to_owner is false" "no recipient at all"
bad userurl 'to = [ "ops@example.com" ]; url = "smtp://mailer:hunter2@127.0.0.1:25";' "option url holds a user name or password" \
    "credentials in the url"
unlike "$TMP/userurl.err" "hunter2" "which are not shown"
bad http 'to = [ "ops@example.com" ]; url = "http://127.0.0.1:25";' "option url must be smtp://HOST[:PORT]" "an http:// url"
bad clear 'to = [ "ops@example.com" ]; url = "smtp://mail.example.com:25"; starttls = false; username = "u"; password = "env:SMTP_PASSWORD";' \
    "option starttls = false with a password" "a password without TLS off loopback"
no_secret clear "no password in that refusal"
conf quoted "$plain_PORT" 'to = [ "\"Doe, Jane\" <jane@example.com>" ];'
: > "$TMP/plain.rec"
run quoted
is "$rc" 0 "a quoted display name with a comma is accepted"
is "$(mails plain.rec 'print(sorted(set(r["rcpt_tos"][0] for r in recs)))')" "['jane@example.com']" "and addressed correctly"
done_testing
