#!/bin/sh
# host->send_mail (core/mail.c) against a real SMTP server (Debian's
# python3-aiosmtpd, tests/smtp_server.py): the message arrives with the right
# envelope and headers, multipart/alternative text + HTML, an RFC 2047
# encoded non-ASCII subject, AUTH, a 451 retried, a 550 final, and no header
# injection through a subject with a line break.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
SEND="$top_builddir/tests/mail_send"
smtp() {  # smtp ARGS...: (re)start the server; sets SMTP_PORT
    [ -n "${SMTP_FIFO:-}" ] && exec 7>&-
    SMTP_FIFO="$TMP/smtp.$(date +%s%N)"
    mkfifo "$SMTP_FIFO"
    rm -f "$TMP/smtp.port"
    "$PYTHON" "$top_srcdir/tests/smtp_server.py" --record "$TMP/mail.jsonl" "$@" < "$SMTP_FIFO" > "$TMP/smtp.port" 2> "$TMP/smtp.err" &
    exec 7> "$SMTP_FIFO"
    for _ in $(seq 100); do grep -q PORT "$TMP/smtp.port" 2>/dev/null && break; sleep 0.05; done
    SMTP_PORT=$(sed -n 's/^PORT //p' "$TMP/smtp.port")
    [ -n "$SMTP_PORT" ] || { echo "Bail out! smtp_server.py did not start: $(cat "$TMP/smtp.err")"; exit 1; }
}
# parsed FIELD: the last received message, parsed by Python's email package
parsed() {
    "$PYTHON" - "$TMP/mail.jsonl" "$1" <<'PY'
import email, email.header, email.policy, json, sys
rec = [json.loads(l) for l in open(sys.argv[1])][-1]
msg = email.message_from_string(rec["data"], policy=email.policy.default)
f = sys.argv[2]
if f == "envelope": print(rec["mail_from"], sorted(rec["rcpt_tos"]))
elif f == "subject": print(msg["subject"])
elif f == "raw_subject": print([l for l in rec["data"].split("\n") if l.startswith("Subject:")][0].strip())
elif f == "to": print(msg["to"])
elif f == "structure": print(msg.get_content_type(), [p.get_content_type() for p in msg.walk()][1:])
elif f == "text": print(msg.get_body(("plain",)).get_content().strip())
elif f == "html": print(msg.get_body(("html",)).get_content().strip())
elif f == "headers": print(bool(msg["date"]), bool(msg["message-id"]), msg["mime-version"])
elif f == "auth": print(rec["auth"])
elif f == "injected": print(msg["bcc"], msg["x-injected"])
PY
}
smtp
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "revops <alerts@example.com>" "Ops Lead <lead@example.com>,cfo@example.com" \
    "Überfällig: 東京アナリティクス at risk (critical)" "Plain text: Zürich & <b>not bold</b>" \
    "<p>HTML: <b>Zürich</b> &amp; co</p>" 2> "$TMP/err"
is "$?" 0 "the message is sent"
is "$(parsed envelope)" "alerts@example.com ['cfo@example.com', 'lead@example.com']" "envelope: sender and both recipients"
is "$(parsed to)" "Ops Lead <lead@example.com>, cfo@example.com" "To header as given"
is "$(parsed subject)" "Überfällig: 東京アナリティクス at risk (critical)" "the non-ASCII subject decodes exactly"
like "$TMP/mail.jsonl" "Subject: =?UTF-8?B?" "and was sent RFC 2047 encoded"
is "$(parsed structure)" "multipart/alternative ['text/plain', 'text/html']" "multipart/alternative: text, then HTML"
is "$(parsed text)" "Plain text: Zürich & <b>not bold</b>" "the text part, UTF-8 round trip"
is "$(parsed html)" "<p>HTML: <b>Zürich</b> &amp; co</p>" "the HTML part"
is "$(parsed headers)" "True True 1.0" "Date, Message-ID and MIME-Version present"

# A long non-ASCII subject: folded encoded words, still exact.
long="$(printf 'Zürich Datenwerk AG — %.0s' 1 2 3 4 5 6)Ende"
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "alerts@example.com" "lead@example.com" "$long" "t" "<p>h</p>" 2> "$TMP/err"
is "$(parsed subject)" "$long" "a long subject folds into several encoded words and decodes exactly"

# A line break in the subject is refused: no header injection.
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "alerts@example.com" "lead@example.com" "hi
Bcc: victim@example.com" "t" "h" 2> "$TMP/err"
is "$?" 2 "a subject with a line break is refused (ERROR)"
like "$TMP/err" "line break or control character" "and says why"

# AUTH.
smtp --user mailer --password 's3cret-smtp'
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "alerts@example.com" "lead@example.com" "auth" "t" "h" mailer 's3cret-smtp' 2> "$TMP/err"
is "$?" 0 "AUTH with the right password"
is "$(parsed auth)" "mailer" "the server saw the user"
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "alerts@example.com" "lead@example.com" "auth" "t" "h" mailer wrong 2> "$TMP/err"
is "$?" 2 "a wrong password is final (SMTP 535)"
like "$TMP/err" "Login denied" "with libcurl's reason"
unlike "$TMP/err" "s3cret-smtp" "the password is not in the error"

# 451 once, then accepted: retried.  550: final.
smtp --fail-first 1
: > "$TMP/mail.jsonl"
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "alerts@example.com" "lead@example.com" "retry" "t" "h" 2> "$TMP/err"
is "$?" 0 "a 451 is retried and the message then accepted"
is "$(wc -l < "$TMP/mail.jsonl" | tr -d ' ')" 1 "delivered once"
smtp --reject
"$SEND" "smtp://127.0.0.1:$SMTP_PORT" "alerts@example.com" "lead@example.com" "reject" "t" "h" 2> "$TMP/err"
is "$?" 2 "a 550 is final"
like "$TMP/err" "SMTP 550" "with the SMTP code"
"$SEND" "http://127.0.0.1:1" "a@example.com" "b@example.com" "x" "t" "h" 2> "$TMP/err"
is "$?" 2 "a URL that is not smtp:// or smtps:// is refused"
done_testing
