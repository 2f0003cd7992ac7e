#!/bin/sh
# The bedrock model plugin through the real core (tests/model_turn), against
# tests/fake_bedrock.py: the Bedrock Runtime Converse API as AWS documents it,
# with every request's Signature Version 4 verified by botocore.  Asserts on the
# neutral reply and on the request bodies the fake recorded.  No credential may
# appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with bedrock.so

# Nothing from the caller's AWS setup may leak in.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION \
      AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE
HOME=$TMP
export HOME

KEY=AKIAFAKEBEDROCK77Q1
SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYbedrockSEC
WRONG_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYwrongSECRET
TOKEN=IQoJb3JpZ2luX2VjEFakeSessionToken/bedrock+test==
DEFAULT_MODEL=anthropic.claude-3-sonnet-20240229-v1:0
MODEL_TURN="$top_builddir/tests/model_turn"

# fake NAME SCRIPT-JSON [FAKE-OPTIONS...]: (re)start the fake with that script;
# requests are recorded in $TMP/NAME.rec.  Sets PORT.  The previous fake exits
# when its stdin (fd 8) is closed here.
fake() {
    name=$1 script=$2; shift 2
    printf '%s\n' "$script" > "$TMP/$name.script"
    : > "$TMP/$name.rec"
    rm -f "$TMP/fake.in"
    mkfifo "$TMP/fake.in"
    "$PYTHON" "$top_srcdir/tests/fake_bedrock.py" --script "$TMP/$name.script" --record "$TMP/$name.rec" \
        --access-key "$KEY" --secret-key "$SECRET" --region us-east-1 "$@" \
        < "$TMP/fake.in" > "$TMP/$name.port" 2> "$TMP/$name.fakeerr" &
    exec 8> "$TMP/fake.in"
    PORT=
    for _ in $(seq 200); do
        PORT=$(sed -n 's/^PORT //p' "$TMP/$name.port" 2>/dev/null)
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    [ -n "$PORT" ] || { echo "Bail out! fake_bedrock.py did not start: $(cat "$TMP/$name.fakeerr")"; exit 1; }
}

# conf NAME [MODEL-OPTIONS]: a config with one bedrock model "m" on the fake.
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
log = { level = "debug"; };
retry = { interval = 0.05; max_attempts = 3; };
models = { m = { plugin = "bedrock"; endpoint = "http://127.0.0.1:$PORT"; $2 }; };
C
}

# turn NAME CONF REQUEST-JSON [ENV=VALUE...]: one model turn with CONF.conf
# -> NAME.out (the reply JSON), NAME.err; exit code in rc.  Credentials are
# the right ones unless ENV says otherwise.
turn() {
    name=$1 cf=$2 request=$3; shift 3
    printf '%s\n' "$request" > "$TMP/$name.req"
    env AWS_ACCESS_KEY_ID="$KEY" AWS_SECRET_ACCESS_KEY="$SECRET" "$@" \
        "$MODEL_TURN" -c "$TMP/$cf.conf" -m m -r "$TMP/$name.req" > "$TMP/$name.out" 2> "$TMP/$name.err"
    rc=$?
}

# reply NAME EXPR: a Python expression on the reply (as d)
reply() { jget "$TMP/$1.out" "$2"; }

# rec NAME EXPR: a Python expression on the recorded requests: r (the records),
# b (their parsed bodies; None when not JSON)
rec() {
    "$PYTHON" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def body(x):
    try:
        return json.loads(x["body"])
    except ValueError:
        return None
b = [body(x) for x in r]
print(eval(sys.argv[2]))' "$TMP/$1.rec" "$2" 2>&1
}

# no_secret NAME...: no credential in any output of these runs
no_secret() {
    found=
    for n in "$@"; do
        for s in "$SECRET" "$WRONG_SECRET" "$TOKEN"; do
            grep -qF -- "$s" "$TMP/$n.out" "$TMP/$n.err" && found="$found $n"
        done
    done
    is "${found:-none}" "none" "no secret key or session token in stdout/stderr of: $*"
}

USER_HI='{"role":"user","content":[{"type":"text","text":"How many open opportunities?"}]}'

# ------------------------------------------------------------ a plain answer
fake plain '{"turns": [{"text": "There are 42 open opportunities.", "usage": {"input": 31, "output": 9}}]}'
conf plain 'region = "us-east-1";'
turn plain plain "{\"system\": \"You are a revenue analyst.\", \"messages\": [$USER_HI], \"max_tokens\": 300, \"temperature\": 0.2}"
is "$rc" 0 "plain answer: exit 0"
is "$(reply plain "d['status'], d['stop'], d['blocks']")" \
   "('ok', 'end_turn', [{'type': 'text', 'text': 'There are 42 open opportunities.'}])" "the text answer comes back, stop end_turn"
is "$(reply plain "d['input_tokens'], d['output_tokens']")" "(31, 9)" "usage.inputTokens / outputTokens come back"
is "$(reply plain "d['model']")" "$DEFAULT_MODEL" "the model is the spec's default Claude 3 Sonnet id"
is "$(rec plain "[x['method'] + ' ' + x['path'] for x in r]")" \
   "['POST /model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse']" \
   "POST /model/{modelId}/converse with the ':' of the default model id sent as %3A"
is "$(rec plain "r[0]['turn']")" "0" "and botocore verified its SigV4 signature (the fake took the turn)"
unlike "$TMP/plain.fakeerr" "signature mismatch" "the fake saw no signature mismatch"
is "$(rec plain "r[0]['headers']['Authorization'].split(',')[0]")" \
   "AWS4-HMAC-SHA256 Credential=$KEY/$(date -u +%Y%m%d)/us-east-1/bedrock/aws4_request" \
   "signed for service bedrock in the configured region"
is "$(rec plain "sorted(b[0])")" "['inferenceConfig', 'messages', 'system']" "the body holds messages, system, inferenceConfig only"
is "$(rec plain "b[0]['system']")" "[{'text': 'You are a revenue analyst.'}]" "the system prompt goes to system[{text}]"
is "$(rec plain "b[0]['messages']")" "[{'role': 'user', 'content': [{'text': 'How many open opportunities?'}]}]" \
   "messages: role and content [{text}]"
is "$(rec plain "b[0]['inferenceConfig']")" "{'maxTokens': 300, 'temperature': 0.2}" \
   "max_tokens and temperature go to inferenceConfig (0.2 as 0.2)"
is "$(rec plain "r[0]['headers'].get('Content-Type')")" "application/json" "Content-Type: application/json"
grep -F '[model:bedrock:m]' "$TMP/plain.err" | grep -F 'converse' > "$TMP/plain.dbg"
like "$TMP/plain.dbg" "debug [model:bedrock:m] converse $DEFAULT_MODEL: 31 tokens in, 9 out, stop end_turn" \
   "one DEBUG line per call: model, tokens, stop reason"
is "$(grep -c 'info  \[model:bedrock:m\]' "$TMP/plain.err")" "0" "nothing at INFO per call"

# --------------------------------------------------------- tools, tool use
TOOLS='[{"name": "run_sql", "description": "Run a read-only SELECT on the warehouse",
         "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}, "limit": {"type": "integer", "maximum": 500}},
                          "required": ["sql"]}},
        {"name": "gong_calls", "input_schema": {"type": "object", "properties": {"account_id": {"type": "string"}}}}]'
fake tools '{"turns": [{"text": "Let me look that up.",
                        "tool_calls": [{"name": "run_sql", "input": {"sql": "SELECT count(*) FROM opportunities", "limit": 5, "ratio": 0.25, "deep": {"ok": true, "none": null, "list": [1, "two"]}}},
                                       {"name": "gong_calls", "input": {"account_id": "001A"}}]},
                       {"echo_tool_results": true}]}'
conf tools 'region = "us-east-1"; max_tokens = 50;'
turn tools tools "{\"messages\": [$USER_HI], \"tools\": $TOOLS, \"max_tokens\": 300}"
is "$rc:$(reply tools "d['status'], d['stop']")" "0:('ok', 'tool_use')" "tool use: stop tool_use"
is "$(reply tools "[b['type'] for b in d['blocks']]")" "['text', 'tool_use', 'tool_use']" \
   "every text and toolUse block, in the provider's order"
is "$(reply tools "d['blocks'][0]['text']")" "Let me look that up." "the text before the calls"
is "$(reply tools "[(b['name'], b['input']) for b in d['blocks'][1:]]")" \
   "[('run_sql', {'sql': 'SELECT count(*) FROM opportunities', 'limit': 5, 'ratio': 0.25, 'deep': {'ok': True, 'none': None, 'list': [1, 'two']}}), ('gong_calls', {'account_id': '001A'})]" \
   "each call's name and input (nested objects, numbers, booleans, null kept)"
ID1=$(reply tools "d['blocks'][1]['id']")
ID2=$(reply tools "d['blocks'][2]['id']")
is "$(reply tools "all(__import__('re').match(r'^tooluse_[A-Za-z0-9_-]{22}$', b['id']) for b in d['blocks'][1:])")" "True" \
   "the toolUseIds come back as Bedrock writes them (tooluse_...)"
is "$(rec tools "b[0]['toolConfig']['tools'][0]")" \
   "{'toolSpec': {'name': 'run_sql', 'description': 'Run a read-only SELECT on the warehouse', 'inputSchema': {'json': {'type': 'object', 'properties': {'sql': {'type': 'string'}, 'limit': {'type': 'integer', 'maximum': 500}}, 'required': ['sql']}}}}" \
   "tools go to toolConfig.tools[{toolSpec: {name, description, inputSchema: {json: <the schema as JSON>}}}]"
is "$(rec tools "b[0]['toolConfig']['tools'][1]")" \
   "{'toolSpec': {'name': 'gong_calls', 'inputSchema': {'json': {'type': 'object', 'properties': {'account_id': {'type': 'string'}}}}}}" \
   "a tool without a description has none (Bedrock refuses an empty one)"
is "$(rec tools "b[0]['inferenceConfig']")" "{'maxTokens': 50}" \
   "temperature < 0 is left out; max_tokens is capped by the plugin's max_tokens option"

# The follow-up: the assistant's tool calls and the user's results.
ASSIST="{\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"Let me look that up.\"},
         {\"type\": \"tool_use\", \"id\": \"$ID1\", \"name\": \"run_sql\", \"input\": {\"sql\": \"SELECT count(*) FROM opportunities\", \"limit\": 5}},
         {\"type\": \"tool_use\", \"id\": \"$ID2\", \"name\": \"gong_calls\", \"input\": {\"account_id\": \"001A\"}}]}"
RESULTS="{\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"$ID1\", \"content\": \"[{\\\"count\\\": 42}]\", \"is_error\": false},
          {\"type\": \"tool_result\", \"tool_use_id\": \"$ID2\", \"content\": \"gong: account 001A not found\", \"is_error\": true}]}"
turn tools2 tools "{\"messages\": [$USER_HI, $ASSIST, $RESULTS], \"tools\": $TOOLS, \"max_tokens\": 300}"
is "$rc:$(reply tools2 "d['status'], d['stop']")" "0:('ok', 'end_turn')" "the follow-up with the tool results: a final answer"
is "$(reply tools2 "d['blocks'][0]['text']")" \
   "Here is what the data says: [{\"count\": 42}] | gong: account 001A not found" "the fake read both tool results"
is "$(rec tools "b[1]['messages'][1]")" \
   "{'role': 'assistant', 'content': [{'text': 'Let me look that up.'}, {'toolUse': {'toolUseId': '$ID1', 'name': 'run_sql', 'input': {'sql': 'SELECT count(*) FROM opportunities', 'limit': 5}}}, {'toolUse': {'toolUseId': '$ID2', 'name': 'gong_calls', 'input': {'account_id': '001A'}}}]}" \
   "the assistant turn: text and toolUse {toolUseId, name, input as JSON}"
is "$(rec tools "b[1]['messages'][2]")" \
   "{'role': 'user', 'content': [{'toolResult': {'toolUseId': '$ID1', 'content': [{'text': '[{\"count\": 42}]'}], 'status': 'success'}}, {'toolResult': {'toolUseId': '$ID2', 'content': [{'text': 'gong: account 001A not found'}], 'status': 'error'}}]}" \
   "the results: toolResult {toolUseId, content [{text}], status success / error}"

# A tool result for an id the assistant never used: Bedrock's 400.
BADRES="{\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"tooluse_NotFromThisTurn000000\", \"content\": \"x\"},
         {\"type\": \"tool_result\", \"tool_use_id\": \"$ID2\", \"content\": \"y\"}]}"
turn badid tools "{\"messages\": [$USER_HI, $ASSIST, $BADRES], \"tools\": $TOOLS}"
is "$rc:$(reply badid "d['status']")" "1:error" "a tool result with a wrong toolUseId: error, not retried"
like "$TMP/badid.out" "HTTP 400" "the error names the HTTP status"
like "$TMP/badid.out" "tooluse_NotFromThisTurn000000" "and Bedrock's message, which names the id"
like "$TMP/badid.out" "HTTP 400 ValidationException: " "and the exception name, ValidationException"
is "$(rec tools "len(r), r[2]['turn']")" "(3, None)" "one request, refused without taking a turn"

# Input that is not JSON never leaves.
BADUSE="{\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", \"id\": \"$ID1\", \"name\": \"run_sql\", \"input\": [1, 2]}]}"
turn badinput tools "{\"messages\": [$USER_HI, $BADUSE, {\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"$ID1\", \"content\": \"z\"}]}], \"tools\": $TOOLS}"
is "$rc:$(reply badinput "d['status']")" "1:error" "a tool_use input that is not a JSON object: error"
like "$TMP/badinput.out" "tool_use block 0 (run_sql): the input is not a JSON object (an array)" "saying which block"
is "$(rec tools "len(r)")" "3" "and nothing was sent"

# ------------------------------------------------------ throttling, 5xx, 4xx
fake throttle '{"turns": [{"status": 429}, {"text": "after the throttling"}]}'
conf throttle 'region = "us-east-1";'
turn throttle throttle "{\"messages\": [$USER_HI]}"
is "$rc:$(reply throttle "d['status'], d['blocks'][0]['text']")" "0:('ok', 'after the throttling')" \
   "a ThrottlingException (429) is retried, then the answer"
is "$(rec throttle "[x['turn'] for x in r]")" "[0, 1]" "the record shows two requests, both verified"
like "$TMP/throttle.err" "HTTP 429; retrying" "the retry is logged by the core"

fake unavailable '{"turns": [{"status": 503, "error": "Bedrock is temporarily unavailable (fake)"}], "repeat_last": true}'
conf unavailable 'region = "us-east-1";'
turn unavailable unavailable "{\"messages\": [$USER_HI]}"
is "$rc:$(reply unavailable "d['status']")" "1:retry" "503 until the retries run out: status retry"
like "$TMP/unavailable.out" "HTTP 503" "with the status"
like "$TMP/unavailable.out" "Bedrock is temporarily unavailable (fake)" "and Bedrock's message"
like "$TMP/unavailable.out" "after 3 attempts" "after the configured 3 attempts"
like "$TMP/unavailable.out" "HTTP 503 ServiceUnavailableException: " "and the exception name, ServiceUnavailableException"
is "$(rec unavailable "len(r)")" "3" "the record shows 3 requests"

fake invalid '{"turns": [{"status": 400, "error": "Malformed input request: #: extraneous key [foo] is not permitted"}]}'
conf invalid 'region = "us-east-1";'
turn invalid invalid "{\"messages\": [$USER_HI]}"
is "$rc:$(reply invalid "d['status']")" "1:error" "a ValidationException (400): error"
like "$TMP/invalid.out" "HTTP 400" "with the status"
like "$TMP/invalid.out" "Malformed input request: #: extraneous key [foo] is not permitted" "and Bedrock's message"
like "$TMP/invalid.out" "HTTP 400 ValidationException: Malformed" "and the exception name, ValidationException"
is "$(rec invalid "len(r)")" "1" "not retried"

fake timeout '{"turns": [{"status": 408, "error": "Model has timed out in processing the request."}]}'
conf timeout 'region = "us-east-1";'
turn timeout timeout "{\"messages\": [$USER_HI]}"
is "$rc:$(reply timeout "d['status']")" "1:error" "a ModelTimeoutException (408): error, as the host does not retry 408"
like "$TMP/timeout.out" "HTTP 408" "with the status"
like "$TMP/timeout.out" "Model has timed out in processing the request." "and Bedrock's message"
like "$TMP/timeout.out" "HTTP 408 ModelTimeoutException: " "and the exception name, ModelTimeoutException"

# ------------------------------------------------------------ malformed 200
fake malformed '{"turns": [{"raw": "{\"output\": {\"message\": tru"}, {"raw": "{\"Output\": {}, \"stopReason\": \"end_turn\"}"},
                           {"raw": "<html>gateway says hi</html>"}]}'
conf malformed 'region = "us-east-1";'
turn malformed malformed "{\"messages\": [$USER_HI]}"
is "$rc:$(reply malformed "d['status']")" "1:error" "a 200 with broken JSON: error, no crash"
like "$TMP/malformed.out" "not a Converse response" "saying the answer is not a Converse response"
like "$TMP/malformed.out" '{\"output\": {\"message\": tru' "and quoting the body's start"
turn malformed2 malformed "{\"messages\": [$USER_HI]}"
like "$TMP/malformed2.out" "no output.message.content array" "valid JSON without output.message.content: error that says so"
turn malformed3 malformed "{\"messages\": [$USER_HI]}"
is "$rc:$(reply malformed3 "d['status']")" "1:error" "an HTML 200: error"
like "$TMP/malformed3.out" "<html>gateway says hi</html>" "quoting it"

# ------------------------------------------------------------ credentials
fake creds '{"turns": [{"text": "signed right"}], "repeat_last": true}'
conf creds 'region = "us-east-1";'
turn wrongsecret creds "{\"messages\": [$USER_HI]}" AWS_SECRET_ACCESS_KEY="$WRONG_SECRET"
is "$rc:$(reply wrongsecret "d['status']")" "1:error" "a wrong secret key: error"
like "$TMP/wrongsecret.out" "HTTP 403" "HTTP 403"
like "$TMP/wrongsecret.out" "The request signature we calculated does not match the signature you provided" \
   "with AWS's signature-mismatch message"
like "$TMP/wrongsecret.out" "HTTP 403 InvalidSignatureException: The request signature" "and the exception name, InvalidSignatureException"
like "$TMP/creds.fakeerr" "signature mismatch" "botocore computed a different signature"
is "$(rec creds "[x['turn'] for x in r]")" "[None]" "the refused request took no turn"
turn wrongkey creds "{\"messages\": [$USER_HI]}" AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000
like "$TMP/wrongkey.out" "The security token included in the request is invalid." "an unknown access key: AWS's message"
like "$TMP/wrongkey.out" "HTTP 403 UnrecognizedClientException: " "and the exception name, UnrecognizedClientException"
turn rightcreds creds "{\"messages\": [$USER_HI]}"
is "$rc:$(reply rightcreds "d['blocks'][0]['text']")" "0:signed right" "the right credentials pass"
no_secret wrongsecret wrongkey rightcreds

# Temporary credentials: AWS_SESSION_TOKEN sent as X-Amz-Security-Token, signed.
fake session '{"turns": [{"text": "session ok"}], "repeat_last": true}' --session-token "$TOKEN"
conf session 'region = "us-east-1";'
turn session session "{\"messages\": [$USER_HI]}" AWS_SESSION_TOKEN="$TOKEN"
is "$rc:$(reply session "d['blocks'][0]['text']")" "0:session ok" "AWS_SESSION_TOKEN: the call succeeds"
is "$(rec session "r[0]['headers'].get('X-Amz-Security-Token') == '$TOKEN'")" "True" "the token is sent as X-Amz-Security-Token"
is "$(rec session "'x-amz-security-token' in r[0]['headers']['Authorization'].split('SignedHeaders=')[1].split(',')[0].split(';')")" \
   "True" "and it is one of the signed headers"
turn nosession session "{\"messages\": [$USER_HI]}"
is "$rc:$(reply nosession "d['status']")" "1:error" "the same keys without the session token are refused"
no_secret session nosession

# The shared credentials file, the profile option choosing its section.
cat > "$TMP/credentials" <<C
[default]
aws_access_key_id = AKIADEFAULTPROFILE01
aws_secret_access_key = not-the-bedrock-secret

[bedrock-test]
aws_access_key_id = $KEY
aws_secret_access_key = $SECRET
C
chmod 600 "$TMP/credentials"
fake shared '{"turns": [{"text": "from the credentials file"}], "repeat_last": true}'
conf shared 'region = "us-east-1"; profile = "bedrock-test";'
conf shareddefault 'region = "us-east-1";'
fileturn() {
    name=$1; shift
    printf '%s\n' "{\"messages\": [$USER_HI]}" > "$TMP/$name.req"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$TMP/credentials" "$@" \
        "$MODEL_TURN" -c "$TMP/$name.conf" -m m -r "$TMP/$name.req" > "$TMP/$name.out" 2> "$TMP/$name.err"
    rc=$?
}
fileturn shared
is "$rc:$(reply shared "d['blocks'][0]['text']")" "0:from the credentials file" \
   "no AWS keys in the environment: the profile's section of AWS_SHARED_CREDENTIALS_FILE is used"
is "$(rec shared "r[0]['headers']['Authorization'].split('/')[0]")" "AWS4-HMAC-SHA256 Credential=$KEY" "signed with that profile's key"
fileturn shareddefault
is "$rc:$(reply shareddefault "d['status']")" "1:error" "without the profile option the [default] section is used (and refused here)"
like "$TMP/shareddefault.out" "The security token included in the request is invalid." "with AWS's unknown-key message"
no_secret shared shareddefault

# ------------------------------------------------------------------ region
fake region '{"turns": [{"text": "region ok"}], "repeat_last": true}'
conf noregion ''
turn noregion noregion "{\"messages\": [$USER_HI]}"
is "$rc:$(reply noregion "d['status']")" "1:error" "no region option, AWS_REGION or AWS_DEFAULT_REGION: error"
like "$TMP/noregion.out" "no AWS region for Bedrock: set the region option" "a clear error at open"
is "$(rec region "len(r)")" "0" "and nothing was sent"
turn envregion noregion "{\"messages\": [$USER_HI]}" AWS_DEFAULT_REGION=us-east-1
is "$rc:$(reply envregion "d['blocks'][0]['text']")" "0:region ok" "AWS_DEFAULT_REGION is used"
turn envregion2 noregion "{\"messages\": [$USER_HI]}" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=eu-west-3
is "$rc:$(reply envregion2 "d['status']")" "0:ok" "AWS_REGION wins over AWS_DEFAULT_REGION"
is "$(rec region "[x['headers']['Authorization'].split('/')[2] for x in r]")" "['us-east-1', 'us-east-1']" "both signed for us-east-1"
conf wrongregion 'region = "eu-west-3";'
turn wrongregion wrongregion "{\"messages\": [$USER_HI]}"
like "$TMP/wrongregion.out" "Credential should be scoped to a valid region" "a region the endpoint does not serve: AWS's scope error"
conf badregion 'region = "us-east-1/../x";'
turn badregion badregion "{\"messages\": [$USER_HI]}"
like "$TMP/badregion.out" "is not a region name" "a region that is not a region name: refused at open"

# ------------------------------------------------------------ other model ids
fake ids '{"turns": [{"text": "id ok"}], "repeat_last": true}'
conf haiku 'region = "us-east-1"; model_id = "us.anthropic.claude-3-5-haiku-20241022-v1:0";'
turn haiku haiku "{\"messages\": [$USER_HI]}"
is "$rc:$(reply haiku "d['model']")" "0:us.anthropic.claude-3-5-haiku-20241022-v1:0" "model_id: an inference profile id, answered and named"
conf arn 'region = "us-east-1"; model_id = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0";'
turn arn arn "{\"messages\": [$USER_HI]}"
is "$rc:$(reply arn "d['status']")" "0:ok" "model_id: a foundation-model ARN (':' and '/' in the path segment) verifies"
is "$(rec ids "[x['path'] for x in r]")" \
   "['/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse', '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fanthropic.claude-3-haiku-20240307-v1%3A0/converse']" \
   "each model id URL-encoded as one path segment"

done_testing
