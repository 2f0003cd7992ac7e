#!/bin/sh
# Secret references end to end: env:, file: and aws-secretsmanager: (a
# GetSecretValue call signed with SigV4, verified by a fake Secrets Manager
# that checks the signature with its own, independent implementation).
# No secret value may appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with tp_rows.so tp_sum.so
start_fake fake_secretsmanager.py
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secretTEST
unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

conf() {  # conf NAME SECRET-REF EXPECTED-VALUE [extra global settings]
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
aws = { region = "eu-north-1"; secretsmanager_endpoint = "http://127.0.0.1:$FAKE_PORT/"; };
$4
sources = { gen = { plugin = "tp_rows"; rows = 5; expect_secret = "$2"; expect_value = "$3"; }; };
pipelines = { p = { analysis = "A5"; inputs = { rows = { source = "gen"; query = "all"; }; }; }; };
C
}
run() {  # run NAME -> $TMP/NAME.out / .err, returns revops' status
    "$REVOPS" run -c "$TMP/$1.conf" > "$TMP/$1.out" 2> "$TMP/$1.err"
}

conf plain "aws-secretsmanager:plain" "hunter2-value"
run plain; is "$?" 0 "aws-secretsmanager:plain resolves through a signed GetSecretValue"
conf key "aws-secretsmanager:revops/firebolt#client_secret" "fb-s3cret-value"
run key; is "$?" 0 "aws-secretsmanager:NAME#key takes one member of a JSON secret"
conf mismatch "aws-secretsmanager:plain" "something-else"
run mismatch; is "$?" 1 "a secret that resolves to another value fails the run (the check above is real)"
like "$TMP/mismatch.out" "the resolved secret is not the expected value" "and says so"

conf missing "aws-secretsmanager:nope" "x"
run missing; is "$?" 1 "an unknown secret fails the run"
like "$TMP/missing.out" "aws-secretsmanager:nope: HTTP 400 ResourceNotFoundException: Secrets Manager can't find the specified secret." \
    "with AWS's error type and message"

AWS_SECRET_ACCESS_KEY=wrongSECRET run plain; is "$?" 1 "a wrong secret access key is refused"
like "$TMP/plain.out" "HTTP 403 InvalidSignatureException: The request signature we calculated does not match" \
    "the fake's own SigV4 check rejects the signature"
AWS_SESSION_TOKEN=tokTEST run plain; is "$?" 0 "temporary credentials: the session token is sent and signed"
AWS_SESSION_TOKEN=badTOKEN run plain; is "$?" 1 "a wrong session token is refused"

conf noregion "aws-secretsmanager:plain" "hunter2-value"
sed -i 's/region = "eu-north-1"; //' "$TMP/noregion.conf"
"$REVOPS" check-config -c "$TMP/noregion.conf" > "$TMP/noregion.out" 2> "$TMP/noregion.err"
is "$?" 78 "no region: check-config fails"
like "$TMP/noregion.err" "option 'expect_secret': aws-secretsmanager:plain needs an AWS region (aws.region, or AWS_REGION)" "and names the option"
AWS_REGION=eu-north-1 "$REVOPS" check-config -c "$TMP/noregion.conf" > /dev/null 2>&1
is "$?" 0 "AWS_REGION supplies the region"
AWS_ACCESS_KEY_ID= "$REVOPS" check-config -c "$TMP/plain.conf" > /dev/null 2> "$TMP/nocred.err"
is "$?" 78 "no credentials: check-config fails"
like "$TMP/nocred.err" "needs AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)" "and says which"

# env: and file: through the same path.
conf envref "env:REVOPS_TEST_TOKEN" "from-env-value"
REVOPS_TEST_TOKEN=from-env-value run envref; is "$?" 0 "env:NAME resolves"
"$REVOPS" check-config -c "$TMP/envref.conf" > /dev/null 2> "$TMP/envref.err"
is "$?" 78 "env:NAME unset: check-config fails"
like "$TMP/envref.err" "environment variable REVOPS_TEST_TOKEN is not set or empty" "and names the variable"
printf 'from-file-value\n' > "$TMP/tok"; chmod 600 "$TMP/tok"
conf fileref "file:$TMP/tok" "from-file-value"
run fileref; is "$?" 0 "file:/path resolves (mode 600)"
chmod 644 "$TMP/tok"
run fileref; is "$?" 1 "file:/path readable by others is refused"
like "$TMP/fileref.out" "is readable by group or others (mode 644); chmod 600 it" "and says how to fix it"

# Nothing secret in anything revops printed or recorded.
cat "$TMP"/*.out "$TMP"/*.err "$TMP"/state/runs.jsonl > "$TMP/all-output" 2>/dev/null
for s in hunter2-value fb-s3cret-value secretTEST from-env-value from-file-value tokTEST; do
    unlike "$TMP/all-output" "$s" "the secret '$s' appears in no output"
done
done_testing
