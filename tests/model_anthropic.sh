#!/bin/sh
# The anthropic model plugin through the real core (tests/model_turn), against
# tests/fake_anthropic.py (the Messages API as Anthropic's public docs describe
# it).  Each turn asserts on the reply the core got AND on the request body the
# fake recorded.  One fake serves one script of turns, taken in order by the
# calls below; a request the fake refuses before a turn (wrong key, a tool
# result for an unknown id) takes none.  No API key may appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with anthropic.so

KEY=sk-ant-api03-test-Key-9f8e7d6c5b4a
WRONG=sk-ant-api03-wrong-Key-0a1b2c3d4e
ANTHROPIC_TEST_KEY=$KEY
export ANTHROPIC_TEST_KEY
TURN="$top_builddir/tests/model_turn"
REC="$TMP/record.jsonl"
: > "$REC"

cat > "$TMP/script.json" <<'S'
{"turns": [
  {"text": "Pipeline coverage is 3.1x.", "usage": {"input": 42, "output": 7}},
  {"tool_calls": [{"name": "run_sql", "input": {"sql": "SELECT count(*) FROM opportunities", "limit": 5,
                   "ratio": 0.25, "tags": ["a", "b"], "nested": {"x": null, "y": true}}}],
   "text": "Let me count the opportunities."},
  {"echo_tool_results": true, "usage": {"input": 120, "output": 30}},
  {"echo_tool_results": true},
  {"status": 429, "retry_after": 1, "error": "Number of request tokens has exceeded your per-minute rate limit"},
  {"text": "after the throttling"},
  {"status": 500, "error": "Internal server error"},
  {"status": 500, "error": "Internal server error"},
  {"status": 500, "error": "Internal server error"},
  {"status": 529, "error": "Overloaded"},
  {"status": 529, "error": "Overloaded"},
  {"status": 529, "error": "Overloaded"},
  {"status": 400, "error": "prompt is too long: 210000 tokens > 200000 maximum"},
  {"status": 404, "error_body": "<html><body><h1>404 Not Found</h1>\nnginx</body></html>"},
  {"raw": "{\"id\": \"msg_01x\", \"type\": \"message\", \"content\": [{\"type\": \"text\", \"te"},
  {"raw": "{\"id\": \"msg_01y\", \"type\": \"message\", \"role\": \"assistant\"}"},
  {"stop": "max_tokens", "text": "The answer was cut"},
  {"stop": "refusal", "text": ""},
  {"text": "still here", "usage": {"input": 5, "output": 2}}
]}
S
start_fake fake_anthropic.py FAKE_MODEL_SCRIPT="$TMP/script.json" FAKE_MODEL_RECORD="$REC" ANTHROPIC_FAKE_KEY="$KEY"
BASE="http://127.0.0.1:$FAKE_PORT"

cat > "$TMP/model.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "$TMP/state";
log = { level = "debug"; };
retry = { interval = 0.05; max_attempts = 3; };
models = {
  m = { plugin = "anthropic"; api_key = "env:ANTHROPIC_TEST_KEY"; base_url = "$BASE"; max_tokens = 777; };
  v = { plugin = "anthropic"; api_key = "env:ANTHROPIC_TEST_KEY"; base_url = "$BASE/"; model = "claude-haiku-4-5";
        anthropic_version = "2024-01-01"; };
};
C

# ------------------------------------------------------------ the plugin
REVOPS_PLUGIN_PATH="$TMP/plugins" "$REVOPS" plugins > "$TMP/plugins.out" 2>&1
like "$TMP/plugins.out" "anthropic" "revops plugins lists the anthropic model"
like "$TMP/plugins.out" "anthropic_version" "and its options"
"$REVOPS" check-config -c "$TMP/model.conf" > "$TMP/check.out" 2>&1
is "$?" 0 "check-config accepts anthropic models with an env: key"

# turn NAME [MODEL]: model_turn on NAME.req.json -> NAME.out (the reply), NAME.err;
# rc in $rc; the requests it made in $TMP/NAME.rec (one JSON line each)
turn() {
    before=$(wc -l < "$REC")
    "$TURN" -c "$TMP/model.conf" -m "${2:-m}" -r "$TMP/$1.req.json" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
    tail -n +"$((before + 1))" "$REC" > "$TMP/$1.rec"
}
# out NAME EXPR: EXPR on the reply (as d)
out() { jget "$TMP/$1.out" "$2"; }
# body NAME EXPR [N]: EXPR on the N-th (default: last) recorded request of NAME,
# b = its parsed body, h = its headers (lower-case names), r = the record line
body() {
    "$PYTHON" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if not lines:
    print("(no request recorded)"); sys.exit(0)
r = lines[int(sys.argv[3]) - 1 if len(sys.argv) > 3 else -1]
b = json.loads(r["body"])
h = {k.lower(): v for k, v in r["headers"].items()}
print(eval(sys.argv[2]))' "$TMP/$1.rec" "$2" ${3:+"$3"} 2>&1
}
requests() { wc -l < "$TMP/$1.rec" | tr -d ' '; }

# ------------------------------------------------------------ plain text
cat > "$TMP/plain.req.json" <<'R'
{"system": "You are a revenue operations analyst. Be brief.",
 "messages": [{"role": "user", "content": [{"type": "text", "text": "How healthy is the pipeline?"}]}],
 "max_tokens": 300, "temperature": 0.2}
R
turn plain
is "$rc" 0 "plain: model_turn exits 0"
is "$(out plain "d['status']")" ok "plain: status ok"
is "$(out plain "d['blocks']")" "[{'type': 'text', 'text': 'Pipeline coverage is 3.1x.'}]" "plain: one text block, the answer"
is "$(out plain "d['stop']")" end_turn "plain: stop_reason end_turn -> end_turn"
is "$(out plain "(d['input_tokens'], d['output_tokens'])")" "(42, 7)" "plain: usage input/output tokens come back"
is "$(out plain "d['model']")" claude-sonnet-4-5 "plain: the model that answered (the default model option)"
is "$(requests plain)" 1 "plain: one request"
like "$TMP/plain.err" "[model:anthropic:m] model claude-sonnet-4-5: 42 tokens in, 7 out, stop end_turn" \
     "plain: one DEBUG line with model, tokens and stop reason"
is "$(grep -c "anthropic:m\] model " "$TMP/plain.err")" 1 "plain: only one such line per call"
unlike "$TMP/plain.err" " info " "plain: nothing at INFO for a call"
is "$(body plain "r['method'] + ' ' + r['path']")" "POST /v1/messages" "plain: POST /v1/messages"
is "$(body plain "h.get('x-api-key') == '$KEY'")" True "plain: the key in x-api-key"
is "$(body plain "h.get('anthropic-version')")" 2023-06-01 "plain: anthropic-version 2023-06-01 by default"
is "$(body plain "h.get('content-type')")" application/json "plain: content-type application/json"
is "$(body plain "'authorization' in h")" False "plain: no Authorization header (the key goes in x-api-key only)"
is "$(body plain "sorted(b)")" "['max_tokens', 'messages', 'model', 'system', 'temperature']" \
   "plain: body members model, max_tokens, system, messages, temperature (no tools)"
is "$(body plain "b['model'], b['max_tokens']")" "('claude-sonnet-4-5', 300)" "plain: model and the request's max_tokens"
is "$(body plain "b['system']")" "You are a revenue operations analyst. Be brief." "plain: system is a top-level string"
is "$(body plain "[m['role'] for m in b['messages']]")" "['user']" "plain: no system message in messages"
is "$(body plain "b['messages'][0]['content']")" "[{'type': 'text', 'text': 'How healthy is the pipeline?'}]" \
   "plain: the user's text block"
is "$(body plain "repr(b['temperature'])")" 0.2 "plain: temperature as a JSON number"

# ------------------------------------------------------------- tool use
cat > "$TMP/tools.req.json" <<'R'
{"messages": [{"role": "user", "content": [{"type": "text", "text": "How many open opportunities?"}]}],
 "tools": [{"name": "run_sql", "description": "Run one read-only SELECT on the warehouse",
            "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
                             "required": ["sql"], "additionalProperties": false}},
           {"name": "kb_search", "description": "Search the schema knowledge base",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}],
 "max_tokens": 500}
R
turn tools
is "$(out tools "d['status'], d['stop']")" "('ok', 'tool_use')" "tools: stop_reason tool_use -> tool_use"
is "$(out tools "[b['type'] for b in d['blocks']]")" "['text', 'tool_use']" "tools: text then tool_use, in the API's order"
is "$(out tools "d['blocks'][0]['text']")" "Let me count the opportunities." "tools: the text before the call"
is "$(out tools "d['blocks'][1]['name']")" run_sql "tools: the tool's name"
ok "$(out tools "__import__('re').fullmatch(r'toolu_01[0-9A-Za-z]{22}', d['blocks'][1]['id']) is not None" | grep -qx True; echo $?)" \
   "tools: the call id as the API gave it (toolu_01...)"
is "$(out tools "d['blocks'][1]['input'] == {'sql': 'SELECT count(*) FROM opportunities', 'limit': 5, 'ratio': 0.25, 'tags': ['a', 'b'], 'nested': {'x': None, 'y': True}}")" \
   True "tools: the input object, every JSON type intact"
TOOL_ID=$(out tools "d['blocks'][1]['id']")
is "$(body tools "[t['name'] for t in b['tools']]")" "['run_sql', 'kb_search']" "tools: both tools sent, in order"
is "$(body tools "sorted(b['tools'][0])")" "['description', 'input_schema', 'name']" "tools: each tool is {name, description, input_schema}"
is "$(body tools "b['tools'][0]['description']")" "Run one read-only SELECT on the warehouse" "tools: the description"
is "$(body tools "type(b['tools'][0]['input_schema']).__name__")" dict "tools: input_schema is a JSON object, not a string"
is "$(body tools "b['tools'][0]['input_schema'] == {'type': 'object', 'properties': {'sql': {'type': 'string'}, 'limit': {'type': 'integer', 'minimum': 1}}, 'required': ['sql'], 'additionalProperties': False}")" \
   True "tools: the schema as given"
is "$(body tools "'system' in b, 'temperature' in b")" "(False, False)" "tools: no system and no temperature when the request has none"

# ---------------------------------------------------- tool result follow-up
"$PYTHON" - "$TMP/tools.req.json" "$TMP/tools.out" "$TMP/result.req.json" <<'P'
import json, sys
req, reply = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
req["messages"].append({"role": "assistant", "content": reply["blocks"]})
req["messages"].append({"role": "user", "content": [
    {"type": "tool_result", "tool_use_id": reply["blocks"][1]["id"], "content": "[{\"count\": 42}]", "is_error": False}]})
json.dump(req, open(sys.argv[3], "w"))
P
turn result
is "$(out result "d['status'], d['stop']")" "('ok', 'end_turn')" "result: the follow-up is answered"
is "$(out result "d['blocks'][0]['text']")" 'Here is what the data says: [{"count": 42}]' "result: the model saw the tool result"
is "$(body result "[m['role'] for m in b['messages']]")" "['user', 'assistant', 'user']" "result: user, assistant, user"
is "$(body result "b['messages'][1]['content'][1] == {'type': 'tool_use', 'id': '$TOOL_ID', 'name': 'run_sql', 'input': {'sql': 'SELECT count(*) FROM opportunities', 'limit': 5, 'ratio': 0.25, 'tags': ['a', 'b'], 'nested': {'x': None, 'y': True}}}")" \
   True "result: the assistant's tool_use sent back with its id, name and input object"
is "$(body result "b['messages'][2]['content']")" "[{'type': 'tool_result', 'tool_use_id': '$TOOL_ID', 'content': '[{\"count\": 42}]', 'is_error': False}]" \
   "result: {type: tool_result, tool_use_id, content, is_error}"

# a tool result for an id the previous message did not hold: the API's 400
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["messages"][2]["content"][0]["tool_use_id"]="toolu_01NotAnIdTheModelGave00"; json.dump(d, open(sys.argv[2], "w"))' \
    "$TMP/result.req.json" "$TMP/badid.req.json"
turn badid
is "$rc" 1 "bad id: model_turn exits 1"
is "$(out badid "d['status']")" error "bad id: status error (not retried)"
like "$TMP/badid.out" 'HTTP 400 invalid_request_error: messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01NotAnIdTheModelGave00' \
     "bad id: the provider's status, type and message"
is "$(requests badid)" 1 "bad id: one request, no retry"

# tool results go first in a user message; an error result keeps is_error; empty text is left out
"$PYTHON" - "$TMP/result.req.json" "$TMP/order.req.json" <<'P'
import json, sys
req = json.load(open(sys.argv[1]))
req["messages"][1]["content"].insert(0, {"type": "text", "text": ""})
req["messages"][2]["content"] = [{"type": "text", "text": "Also compare with last quarter."},
                                 dict(req["messages"][2]["content"][0], content="statement timeout", is_error=True)]
json.dump(req, open(sys.argv[2], "w"))
P

turn order
is "$(out order "d['status']")" ok "order: answered"
is "$(body order "[x['type'] for x in b['messages'][2]['content']]")" "['tool_result', 'text']" \
   "order: in a user message the tool_result blocks come first, then the text (the API's rule)"
is "$(body order "b['messages'][2]['content'][0]['is_error'], b['messages'][2]['content'][0]['content']")" \
   "(True, 'statement timeout')" "order: a failed call's result keeps is_error true and its text"
is "$(body order "[x['type'] for x in b['messages'][1]['content']]")" "['text', 'tool_use']" \
   "order: an empty text block is left out (the API refuses empty text)"
is "$(out order "d['blocks'][0]['text']")" "Here is what the data says: statement timeout" "order: the model saw the error result"

# ------------------------------------------------------------ throttling
cp "$TMP/plain.req.json" "$TMP/throttle.req.json"
t0=$(date +%s.%N)
turn throttle
t1=$(date +%s.%N)
is "$(out throttle "d['status'], d['blocks'][0]['text']")" "('ok', 'after the throttling')" "429: retried, then the answer"
is "$(requests throttle)" 2 "429: the record shows 2 requests"
is "$(body throttle "r['body']" 1)" "$(body throttle "r['body']" 2)" "429: the retry sent the same body"
ok "$("$PYTHON" -c "import sys; sys.exit(0 if $t1 - $t0 >= 1.0 else 1)"; echo $?)" "429: retry-after (1 s) honoured"

# ------------------------------------------------------- 5xx until the end
cp "$TMP/plain.req.json" "$TMP/e500.req.json"
turn e500
is "$rc" 1 "500: model_turn exits 1"
is "$(out e500 "d['status']")" retry "500: status retry once the retries are spent"
like "$TMP/e500.out" "HTTP 500 api_error: Internal server error" "500: the provider's type and message"
is "$(requests e500)" 3 "500: max_attempts (3) requests"

cp "$TMP/plain.req.json" "$TMP/e529.req.json"
turn e529
is "$(out e529 "d['status']")" retry "529: overloaded_error is transient: status retry"
like "$TMP/e529.out" "HTTP 529 overloaded_error: Overloaded" "529: the provider's type and message"
is "$(requests e529)" 3 "529: retried like a 5xx (3 requests)"

# ------------------------------------------------------------- a 400
cp "$TMP/plain.req.json" "$TMP/e400.req.json"
turn e400
is "$(out e400 "d['status']")" error "400: status error"
like "$TMP/e400.out" "HTTP 400 invalid_request_error: prompt is too long: 210000 tokens > 200000 maximum" \
     "400: the provider's type and message"
like "$TMP/e400.out" "(request_id req_01" "400: the request id, for Anthropic's support"
is "$(requests e400)" 1 "400: not retried"

# an error body that is not Anthropic's (a proxy's page): its start is quoted
cp "$TMP/plain.req.json" "$TMP/proxy.req.json"
turn proxy
is "$(out proxy "d['status']")" error "proxy 404: status error"
like "$TMP/proxy.out" "HTTP 404 (no error type): not Anthropic's error format: <html><body><h1>404 Not Found</h1> nginx" \
     "proxy 404: the status and the start of the body, on one line"

# --------------------------------------------------- 200 that is not a message
cp "$TMP/plain.req.json" "$TMP/badjson.req.json"
turn badjson
is "$rc" 1 "malformed JSON: model_turn exits 1 (no crash)"
is "$(out badjson "d['status']")" error "malformed JSON: status error"
like "$TMP/badjson.out" "is not an Anthropic message" "malformed JSON: says the answer is not the API's format"
like "$TMP/badjson.out" '{\"id\": \"msg_01x\", \"type\": \"message\"' "malformed JSON: quotes the start of the body"

cp "$TMP/plain.req.json" "$TMP/nocontent.req.json"
turn nocontent
is "$(out nocontent "d['status']")" error "no content: status error"
like "$TMP/nocontent.out" "no content array" "no content: says what is missing"

# ------------------------------------------------ stop reasons, max_tokens default
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["max_tokens"]=0; json.dump(d, open(sys.argv[2], "w"))' \
    "$TMP/plain.req.json" "$TMP/cut.req.json"
turn cut
is "$(out cut "d['stop'], d['blocks'][0]['text']")" "('max_tokens', 'The answer was cut')" "max_tokens: stop_reason max_tokens -> max_tokens"
is "$(body cut "b['max_tokens']")" 777 "max_tokens: the option's value when the request sets none"

cp "$TMP/plain.req.json" "$TMP/refusal.req.json"
turn refusal
is "$(out refusal "d['status'], d['stop'], d['blocks']")" "('ok', 'other', [])" "refusal: stop other, no blocks"

# ------------------------------------------------------------ credentials
cp "$TMP/plain.req.json" "$TMP/badkey.req.json"
ANTHROPIC_TEST_KEY=$WRONG
turn badkey
ANTHROPIC_TEST_KEY=$KEY
is "$(out badkey "d['status']")" error "wrong key: status error"
like "$TMP/badkey.out" "HTTP 401 authentication_error: invalid x-api-key" "wrong key: the provider's 401 type and message"
is "$(requests badkey)" 1 "wrong key: not retried"
is "$(body badkey "h.get('x-api-key') == '$WRONG'")" True "wrong key: it was the key sent"

# ------------------------------------------------------------ the fake itself
# post BODY-JSON [HEADER=VALUE ...]: "status error.type: error.message" of a raw request
post() {
    "$PYTHON" - "$BASE" "$@" <<'P'
import json, sys, urllib.request, urllib.error
base, body, hdrs = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
path = hdrs.pop("PATH", "/v1/messages")
req = urllib.request.Request(base + path, data=body.encode(), method="POST", headers=hdrs)
try:
    r = urllib.request.urlopen(req, timeout=5)
    print(r.status)
except urllib.error.HTTPError as e:
    d = json.loads(e.read())
    print(e.code, d["type"], d["error"]["type"] + ":", d["error"]["message"])
P
}
GOOD='{"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}'
H="content-type=application/json"
is "$(post "$GOOD" $H anthropic-version=2023-06-01)" "401 error authentication_error: x-api-key header is required" \
   "fake: no x-api-key -> 401"
is "$(post '{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}' $H x-api-key=$KEY anthropic-version=2023-06-01)" \
   "400 error invalid_request_error: max_tokens: Field required" "fake: no max_tokens -> the API's 400"
is "$(post "$GOOD" $H x-api-key=$KEY)" "400 error invalid_request_error: anthropic-version: header is required" \
   "fake: no anthropic-version -> 400"
is "$(post '{"model": "m", "max_tokens": 5, "tools": [{"name": "t", "input_schema": "{\"type\": \"object\"}"}], "messages": [{"role": "user", "content": "hi"}]}' $H x-api-key=$KEY anthropic-version=2023-06-01)" \
   "400 error invalid_request_error: tools.0.input_schema: Input should be a valid dictionary" "fake: a schema as a string -> 400"
is "$(post "$GOOD" $H x-api-key=$KEY anthropic-version=2023-06-01 PATH=/v1/complete)" \
   "404 error not_found_error: fake: no such endpoint /v1/complete" "fake: another path -> 404"

# anthropic_version, model and a base_url with a trailing '/' (the 401 and
# the refused requests above took no turn)
cp "$TMP/plain.req.json" "$TMP/version.req.json"
turn version v
is "$(out version "d['status'], d['blocks'][0]['text']")" "('ok', 'still here')" "options: the refused requests took no turn"
is "$(body version "r['path'], h.get('anthropic-version'), b['model']")" "('/v1/messages', '2024-01-01', 'claude-haiku-4-5')" \
   "options: anthropic_version, model, base_url with a trailing /"
is "$(out version "d['model']")" claude-haiku-4-5 "options: the model name comes back"

# ------------------------------------------------------------ no secret anywhere
cat "$TMP"/*.out "$TMP"/*.err > "$TMP/all.txt"
unlike "$TMP/all.txt" "$KEY" "the API key appears in no output or error"
unlike "$TMP/all.txt" "$WRONG" "the wrong key appears in no output or error"
ok "$(grep -c . "$TMP/fake_anthropic.py.err" | grep -qx 0; echo $?)" "the fake wrote nothing to stderr"
cat "$TMP"/*.err > "$TMP/all.err"
unlike "$TMP/all.err" "Sanitizer" "no sanitizer report (ASan/LSan) from any call"
unlike "$TMP/all.err" "runtime error" "no UBSan report from any call"

done_testing
