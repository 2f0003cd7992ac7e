#!/bin/sh
# The openai model plugin through the real core (tests/model_turn), against
# tests/fake_openai.py (OpenAI Chat Completions as its public docs describe it).
# Each scenario runs its own fake with its own script and record; assertions
# are on the neutral reply AND on the request bodies and headers the fake
# recorded.  No API key may appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with openai.so
TURN="$top_builddir/tests/model_turn"

KEY=sk-proj-revops-test-key-4242abcd
WRONG=sk-proj-revops-wrong-key-7777wxyz
OPENAI_TEST_KEY=$KEY OPENAI_WRONG_KEY=$WRONG
export OPENAI_TEST_KEY OPENAI_WRONG_KEY

# fake NAME SCRIPT-JSON [FAKE-ARGS...]: stop the previous fake, start one
# with this script, recording into NAME.rec; sets PORT.
fake() {
    exec 8>&-
    name=$1 script=$2; shift 2
    printf '%s\n' "$script" > "$TMP/$name.script"
    mkfifo "$TMP/$name.in"
    "$PYTHON" "$top_srcdir/tests/fake_openai.py" --script "$TMP/$name.script" --record "$TMP/$name.rec" "$@" \
        < "$TMP/$name.in" > "$TMP/$name.port" 2> "$TMP/$name.ferr" &
    exec 8> "$TMP/$name.in"
    for _ in $(seq 100); do
        grep -q PORT "$TMP/$name.port" 2>/dev/null && break
        sleep 0.05
    done
    PORT=$(sed -n 's/^PORT //p' "$TMP/$name.port")
    [ -n "$PORT" ] || { echo "Bail out! fake_openai.py did not start: $(cat "$TMP/$name.ferr")"; exit 1; }
    : > "$TMP/$name.rec"
}
# conf NAME [MODEL-OPTIONS] [LOG-LEVEL]: a config with model m on the current fake
conf() {
    if [ $# -ge 2 ]; then opts=$2; else opts='api_key = "env:OPENAI_TEST_KEY";'; fi
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
log = { level = "${3:-info}"; };
retry = { interval = 0.05; max_attempts = 3; };
models = { m = { plugin = "openai"; base_url = "http://127.0.0.1:$PORT/v1"; $opts }; };
C
}
# turn NAME REQUEST-JSON: model_turn on NAME.conf -> NAME.out, NAME.err; exit code in $rc
turn() {
    printf '%s\n' "$2" > "$TMP/$1.req"
    "$TURN" -c "$TMP/$1.conf" -m m -r "$TMP/$1.req" > "$TMP/$1.out" 2> "$TMP/$1.err"
    rc=$?
}
# out NAME EXPR: a Python expression on the reply (as d)
out() { jget "$TMP/$1.out" "$2"; }
# rec NAME EXPR: a Python expression on the recorded requests (R; each with
# its parsed body as r["b"]), after the fake wrote them all
rec() {
    "$PYTHON" -c '
import json, sys
R = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in R:
    try:
        r["b"] = json.loads(r["body"])
    except ValueError:
        r["b"] = None
print(eval(sys.argv[2]))' "$TMP/$1.rec" "$2" 2>&1
}
# no_key NAME: neither key appears in NAME.out / NAME.err
no_key() {
    cat "$TMP/$1.out" "$TMP/$1.err" > "$TMP/$1.all"
    unlike "$TMP/$1.all" "$KEY" "$1: the API key appears nowhere in the output"
    unlike "$TMP/$1.all" "$WRONG" "$1: nor the wrong key"
}
# error_has NAME TEXT DESCRIPTION
error_has() {
    "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if sys.argv[2] in (d.get("error") or "") else 1)' \
        "$TMP/$1.out" "$2"
    r=$?
    ok $r "$3"
    [ $r -eq 0 ] || echo "#   error was: $(out "$1" "d.get('error')")"
}

USER1='{"role":"user","content":[{"type":"text","text":"How many accounts are at risk?"}]}'
SCHEMA='{"type":"object","properties":{"sql":{"type":"string","description":"one SELECT"}},"required":["sql"],"additionalProperties":false}'
SCHEMA_PY=$(printf '%s' "$SCHEMA" | jget /dev/stdin d)
TOOLS='[{"name":"run_sql","description":"Run one read-only SQL query","input_schema":'"$SCHEMA"'},{"name":"kb_search","description":"Search the schema notes","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}}]'

# ------------------------------------------------------------ plain text
fake plain '{"turns": [{"text": "Four accounts are at risk.", "usage": {"input": 57, "output": 9}}]}' --api-key "$KEY"
conf plain
turn plain '{"messages": ['"$USER1"'], "max_tokens": 300}'
is "$rc" 0 "plain: model_turn succeeds"
is "$(out plain "d['status'], d['stop']")" "('ok', 'end_turn')" "plain: status ok, stop end_turn (finish_reason stop)"
is "$(out plain "d['blocks']")" "[{'type': 'text', 'text': 'Four accounts are at risk.'}]" "plain: one text block with the answer"
is "$(out plain "d['input_tokens'], d['output_tokens']")" "(57, 9)" "plain: usage prompt_tokens / completion_tokens come back"
is "$(out plain "d['model']")" "gpt-4o-2024-08-06" "plain: the model is the one the answer names (the dated snapshot)"
is "$(rec plain "len(R), R[0]['method'], R[0]['path']")" "(1, 'POST', '/v1/chat/completions')" "plain: one POST to {base_url}/chat/completions"
is "$(rec plain "R[0]['headers'].get('Authorization')")" "Bearer $KEY" "plain: Authorization: Bearer KEY"
is "$(rec plain "R[0]['headers'].get('Content-Type')")" "application/json" "plain: a JSON body"
is "$(rec plain "R[0]['headers'].get('OpenAI-Organization')")" "None" "plain: no OpenAI-Organization header unless configured"
is "$(rec plain "R[0]['b']['model']")" "gpt-4o" "plain: the default model gpt-4o"
is "$(rec plain "R[0]['b']['messages']")" "[{'role': 'user', 'content': 'How many accounts are at risk?'}]" \
    "plain: the user message as {role, content}, no system message when none is given"
is "$(rec plain "R[0]['b'].get('max_tokens'), 'max_completion_tokens' in R[0]['b']")" "(300, False)" "plain: max_tokens from the request"
is "$(rec plain "sorted(R[0]['b'])")" "['max_tokens', 'messages', 'model']" "plain: no tools, temperature or response_format when not asked for"
[ -s "$TMP/plain.err" ]; ok $((1 - $?)) "plain: nothing logged at level info for a successful call"
no_key plain

# ------------------------------------------- system prompt, temperature, caps
fake sys '{"turns": [{"text": "ok"}, {"text": "ok"}, {"text": "ok"}], "repeat_last": false}'
conf sys 'max_tokens = 2000; organization = "org-revops42";' debug
turn sys '{"system": "You are a revenue analyst. Be brief.", "messages": [{"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]}], "temperature": 0.2, "max_tokens": 9000}'
is "$(out sys "d['status']")" "ok" "system: ok"
is "$(rec sys "R[0]['b']['messages'][0]")" "{'role': 'system', 'content': 'You are a revenue analyst. Be brief.'}" \
    "system: the system prompt is the first message, role system"
is "$(rec sys "R[0]['b']['messages'][1]")" "{'role': 'user', 'content': 'Part one.\\n\\nPart two.'}" \
    "system: a user message's text blocks joined by a blank line"
is "$(rec sys "R[0]['b']['temperature']")" "0.2" "system: temperature 0.2 at the top level of the body"
is "$(rec sys "R[0]['b']['max_tokens']")" "2000" "system: a request asking for more than the max_tokens option is capped by it"
is "$(rec sys "R[0]['headers'].get('Authorization')")" "None" "system: without api_key no Authorization header (a local server)"
is "$(rec sys "R[0]['headers'].get('OpenAI-Organization')")" "org-revops42" "system: organization -> OpenAI-Organization"
is "$(grep -c 'debug *\[model:openai:m\] gpt-4o-2024-08-06: [0-9]* tokens in, [0-9]* out, finish_reason stop (stop end_turn)' "$TMP/sys.err")" 1 \
    "system: at debug, one line per call with the model, tokens and stop reason"
turn sys '{"messages": ['"$USER1"'], "temperature": 0, "max_tokens": 64}'
is "$(rec sys "R[1]['b'].get('temperature'), R[1]['b']['max_tokens']")" "(0, 64)" "system: temperature 0 is sent (only < 0 is left out)"

# --------------------------------------------------- tools and a tool call
fake tools '{"turns": [{"text": "Let me query the warehouse.", "tool_calls": [{"name": "run_sql", "input": {"sql": "SELECT count(*) FROM accounts WHERE risk > 0.7"}}, {"name": "kb_search", "input": {"q": "risk score"}}], "usage": {"input": 120, "output": 40}}]}' --api-key "$KEY"
conf tools
turn tools '{"messages": ['"$USER1"'], "tools": '"$TOOLS"', "max_tokens": 500}'
is "$(out tools "d['status'], d['stop']")" "('ok', 'tool_use')" "tools: finish_reason tool_calls -> stop tool_use"
is "$(out tools "[b['type'] for b in d['blocks']]")" "['text', 'tool_use', 'tool_use']" "tools: the text, then both calls, in order"
is "$(out tools "d['blocks'][0]['text']")" "Let me query the warehouse." "tools: the text that came with the calls"
is "$(out tools "d['blocks'][1]['name'], d['blocks'][1]['input']")" "('run_sql', {'sql': 'SELECT count(*) FROM accounts WHERE risk > 0.7'})" \
    "tools: the first call's name and its arguments as a JSON object"
is "$(out tools "d['blocks'][2]['name'], d['blocks'][2]['input']")" "('kb_search', {'q': 'risk score'})" "tools: the second call"
is "$(out tools "[__import__('re').fullmatch('call_[A-Za-z0-9]{24}', b['id']) is not None for b in d['blocks'][1:]], len(set(b['id'] for b in d['blocks'][1:]))")" "([True, True], 2)" \
    "tools: each call keeps OpenAI's own id (call_ and 24 characters)"
is "$(rec tools "R[0]['b']['tools'][0]")" \
    "{'type': 'function', 'function': {'name': 'run_sql', 'description': 'Run one read-only SQL query', 'parameters': $SCHEMA_PY}}" "tools: {type: function, function: {name, description, parameters}} with the schema embedded as JSON"
is "$(rec tools "type(R[0]['b']['tools'][1]['function']['parameters']).__name__, len(R[0]['b']['tools'])")" "('dict', 2)" \
    "tools: every tool sent, parameters an object (not a string)"
ID1=$(out tools "d['blocks'][1]['id']")
ID2=$(out tools "d['blocks'][2]['id']")

# ------------------------------------------------ the follow-up with results
FOLLOW='{"messages": ['"$USER1"',
  {"role": "assistant", "content": [{"type": "text", "text": "Let me query the warehouse."},
     {"type": "tool_use", "id": "'"$ID1"'", "name": "run_sql", "input": {"sql": "SELECT count(*) FROM accounts WHERE risk > 0.7"}},
     {"type": "tool_use", "id": "'"$ID2"'", "name": "kb_search", "input": {"q": "risk score"}}]},
  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "'"$ID1"'", "content": "[{\"count\": 4}]"},
     {"type": "tool_result", "tool_use_id": "'"$ID2"'", "content": "tool kb_search failed: index missing", "is_error": true},
     {"type": "text", "text": "Answer in one sentence."}]}],
  "tools": '"$TOOLS"', "max_tokens": 500}'
fake follow '{"turns": [{"echo_tool_results": true}]}' --api-key "$KEY"
conf follow
turn follow "$FOLLOW"
is "$(out follow "d['status'], d['stop']")" "('ok', 'end_turn')" "follow-up: ok, end_turn"
is "$(out follow "d['blocks'][0]['text']")" 'Here is what the data says: [{"count": 4}] | tool kb_search failed: index missing' \
    "follow-up: the fake saw both tool results, in order"
is "$(rec follow "R[0]['b']['messages'][1]")" \
    "{'role': 'assistant', 'content': 'Let me query the warehouse.', 'tool_calls': [{'id': '$ID1', 'type': 'function', 'function': {'name': 'run_sql', 'arguments': '{\"sql\":\"SELECT count(*) FROM accounts WHERE risk > 0.7\"}'}}, {'id': '$ID2', 'type': 'function', 'function': {'name': 'kb_search', 'arguments': '{\"q\":\"risk score\"}'}}]}" \
    "follow-up: the assistant turn with its text and tool_calls (arguments a JSON string)"
is "$(rec follow "[m['role'] for m in R[0]['b']['messages']]")" "['user', 'assistant', 'tool', 'tool', 'user']" \
    "follow-up: one tool message per result right after the assistant, then the user's text"
is "$(rec follow "R[0]['b']['messages'][2]")" "{'role': 'tool', 'tool_call_id': '$ID1', 'content': '[{\"count\": 4}]'}" \
    "follow-up: {role: tool, tool_call_id, content}"
is "$(rec follow "R[0]['b']['messages'][3]['tool_call_id'], R[0]['b']['messages'][4]")" \
    "('$ID2', {'role': 'user', 'content': 'Answer in one sentence.'})" "follow-up: the second result, then the text"

# an assistant turn with calls only: content null
fake nullc '{"turns": [{"text": "done"}]}'
conf nullc ''
turn nullc '{"messages": ['"$USER1"', {"role": "assistant", "content": [{"type": "tool_use", "id": "call_abc", "name": "run_sql", "input": {}}]}, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_abc", "content": "[]"}]}]}'
is "$(out nullc "d['status']")" "ok" "calls only: ok"
is "$(rec nullc "R[0]['b']['messages'][1]['content'], R[0]['b']['messages'][1]['tool_calls'][0]['function']['arguments']")" "(None, '{}')" \
    "calls only: the assistant content is null, empty input -> arguments '{}'"
is "$(rec nullc "[m['role'] for m in R[0]['b']['messages']]")" "['user', 'assistant', 'tool']" "calls only: no empty user message after the tool message"

# a tool result for an id the assistant never used: the API's 400
fake badid '{"turns": [{"text": "should not be reached"}]}' --api-key "$KEY"
conf badid
turn badid "$(printf '%s' "$FOLLOW" | sed "s/\"tool_use_id\": \"$ID1\"/\"tool_use_id\": \"call_notissued000000000000\"/")"
is "$rc" 1 "wrong id: model_turn fails"
is "$(out badid "d['status']")" "error" "wrong id: status error (a 400 is final)"
error_has badid "HTTP 400 invalid_request_error: Invalid parameter: 'tool_call_id' of 'call_notissued000000000000' not found in 'tool_calls' of previous message." \
    "wrong id: the error has the status, OpenAI's type and message"
is "$(rec badid "len(R), R[0]['turn']")" "(1, None)" "wrong id: one request, not retried, no turn taken"

# ----------------------------------------------------------- throttling
fake thr '{"turns": [{"status": 429, "retry_after": 0, "error": "Rate limit reached for gpt-4o in organization org-revops42 on requests per min (RPM): Limit 3, Used 3, Requested 1."}, {"text": "after the wait"}]}' --api-key "$KEY"
conf thr
turn thr '{"messages": ['"$USER1"']}'
is "$(out thr "d['status'], d['blocks'][0]['text']")" "('ok', 'after the wait')" "429: retried, then the answer"
is "$(rec thr "len(R), [r['turn'] for r in R]")" "(2, [0, 1])" "429: the record shows two requests"
is "$(rec thr "R[0]['body'] == R[1]['body']")" "True" "429: the retry sends the same body"

fake thr2 '{"turns": [{"status": 429, "retry_after": 0, "error": "Rate limit reached for gpt-4o on tokens per min (TPM)."}], "repeat_last": true}' --api-key "$KEY"
conf thr2
turn thr2 '{"messages": ['"$USER1"']}'
is "$(out thr2 "d['status']")" "retry" "429 throughout: status retry"
error_has thr2 "HTTP 429 requests: Rate limit reached for gpt-4o on tokens per min (TPM). (code rate_limit_exceeded)" \
    "429 throughout: OpenAI's type, message and code"

# ------------------------------------------------------------------ 5xx
fake s503 '{"turns": [{"status": 503, "error": "The engine is currently overloaded, please try again later"}], "repeat_last": true}' --api-key "$KEY"
conf s503
turn s503 '{"messages": ['"$USER1"']}'
is "$rc" 1 "503 until retries run out: model_turn fails"
is "$(out s503 "d['status']")" "retry" "503: status retry"
error_has s503 "HTTP 503 server_error: The engine is currently overloaded, please try again later" "503: the provider's type and message"
error_has s503 "after 3 attempts; transient, retries exhausted" "503: says the retries ran out"
is "$(rec s503 "len(R)")" 3 "503: max_attempts requests"

# ------------------------------------------------------------------ 400
fake e400 '{"turns": [{"status": 400, "error": "This model'"'"'s maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens."}]}' --api-key "$KEY"
conf e400
turn e400 '{"messages": ['"$USER1"']}'
is "$(out e400 "d['status']")" "error" "400: status error"
error_has e400 "HTTP 400 invalid_request_error: This model's maximum context length is 128000 tokens." "400: OpenAI's type and message"
is "$(rec e400 "len(R)")" 1 "400: not retried"

# a provider message that quotes the key back is redacted
fake echo '{"turns": [{"status": 400, "error": "Key '"$KEY"' is not allowed to use gpt-4o"}]}' --api-key "$KEY"
conf echo
turn echo '{"messages": ['"$USER1"']}'
error_has echo "Key [redacted] is not allowed" "redaction: a message quoting the key has it redacted"
no_key echo

# ------------------------------------------------------ malformed answers
fake raw '{"turns": [{"raw": "{\"id\": \"chatcmpl-x\", \"object\": \"chat.completion\", \"choices\": [{\"message\": {\"content\": \"cut sho"}, {"raw": "{\"object\": \"list\", \"data\": []}"}, {"raw": "<html><body>502 Bad Gateway</body></html>"}]}'
conf raw ''
turn raw '{"messages": ['"$USER1"']}'
is "$rc" 1 "truncated JSON: model_turn fails, no crash"
is "$(out raw "d['status']")" "error" "truncated JSON: status error"
error_has raw "is not JSON" "truncated JSON: says the answer is not JSON"
error_has raw '{"id": "chatcmpl-x", "object": "chat.completion"' "truncated JSON: quotes the start of the body"
turn raw '{"messages": ['"$USER1"']}'
error_has raw 'not a chat completion (no choices[0].message object): {"object": "list", "data": []}' \
    "JSON of another shape: says it is not a chat completion and quotes it"
turn raw '{"messages": ['"$USER1"']}'
error_has raw "is not JSON" "an HTML page with status 200: not JSON"
error_has raw "<html><body>502 Bad Gateway" "an HTML page: quoted"

# ------------------------------------------------------------ credentials
fake auth '{"turns": [{"text": "never"}]}' --api-key "$KEY"
conf auth 'api_key = "env:OPENAI_WRONG_KEY";'
turn auth '{"messages": ['"$USER1"']}'
is "$(out auth "d['status']")" "error" "wrong key: status error"
error_has auth "HTTP 401 invalid_request_error: Incorrect API key provided" "wrong key: OpenAI's 401 type and message"
error_has auth "(code invalid_api_key)" "wrong key: with the code"
error_has auth "check api_key" "wrong key: says what to check"
is "$(rec auth "len(R), R[0]['turn']")" "(1, None)" "wrong key: not retried, no turn taken"
no_key auth
conf auth2 ''
turn auth2 '{"messages": ['"$USER1"']}'
error_has auth2 "HTTP 401 invalid_request_error: You didn't provide an API key" "no key for a server that wants one: OpenAI's 401"
conf auth3 'api_key = "env:OPENAI_TEST_KEY";' debug
turn auth3 '{"messages": ['"$USER1"']}'
is "$(out auth3 "d['status'], d['blocks'][0]['text']")" "('ok', 'never')" "the right key: the script's turn"
no_key auth3

# ------------------------------------------- max_tokens_field, json_mode
fake o3 '{"turns": [{"text": "{\"n\": 4}"}, {"text": "{\"n\": 4}"}, {"text": "{\"n\": 4}"}, {"text": "{\"n\": 4}"}]}'
conf o3 'model = "o3-mini"; max_tokens_field = "max_completion_tokens"; json_mode = true;'
turn o3 '{"messages": [{"role": "user", "content": [{"type": "text", "text": "Answer as JSON: how many?"}]}], "max_tokens": 256, "json_answer": true}'
is "$(out o3 "d['status'], d['model']")" "('ok', 'o3-mini')" "max_completion_tokens: a reasoning model answers"
is "$(rec o3 "R[0]['b'].get('max_completion_tokens'), 'max_tokens' in R[0]['b']")" "(256, False)" \
    "max_completion_tokens: the cap goes in max_completion_tokens only"
is "$(rec o3 "R[0]['b'].get('response_format')")" "{'type': 'json_object'}" "json_mode: response_format json_object for a JSON answer"
turn o3 '{"messages": [{"role": "user", "content": [{"type": "text", "text": "How many?"}]}], "json_answer": false}'
is "$(rec o3 "'response_format' in R[1]['b']")" "False" "json_mode: nothing when no JSON answer is wanted"
conf o3b 'model = "o3-mini"; json_mode = false;'
turn o3b '{"messages": [{"role": "user", "content": [{"type": "text", "text": "Answer as JSON."}]}], "json_answer": true}'
is "$(out o3b "d['status']")" "error" "max_tokens to a reasoning model: the API refuses it"
error_has o3b "'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead. (code unsupported_parameter, param max_tokens)" \
    "max_tokens to a reasoning model: OpenAI's message, code and param"
is "$(rec o3 "'response_format' in R[2]['b']")" "False" "json_mode false: no response_format even for a JSON answer"

# ------------------------------------------ what a model may send back
fake odd '{"turns": [
  {"tool_calls": [{"name": "run_sql", "arguments": "{\"sql\": \"SELECT 1"}]},
  {"tool_calls": [{"name": "kb_search", "arguments": "", "no_id": true}]},
  {"stop": "max_tokens", "text": "The answer was cut"},
  {"stop": "content_filter", "text": ""},
  {"refusal": "I can not help with that."}]}'
conf odd ''
turn odd '{"messages": ['"$USER1"'], "tools": '"$TOOLS"'}'
is "$(out odd "d['status'], d['stop']")" "('ok', 'tool_use')" "invalid arguments: the call still comes back"
is "$(out odd "d['blocks'][0]['input']")" '{"sql": "SELECT 1' "invalid arguments: input_json is the model's raw text"
like "$TMP/odd.err" "the arguments are not a JSON object" "invalid arguments: a WARN says so"
grep -q 'warn *\[model:openai:m\] tool call call_[A-Za-z0-9]* (run_sql)' "$TMP/odd.err"
ok $? "invalid arguments: logged at warn, naming the call and the tool"
turn odd '{"messages": ['"$USER1"'], "tools": '"$TOOLS"'}'
is "$(out odd "d['blocks'][0]['id'][:12], d['blocks'][0]['input']")" "('call_revops_', {})" \
    "no id, empty arguments: an id is made up, the input is {}"
turn odd '{"messages": ['"$USER1"']}'
is "$(out odd "d['stop'], d['blocks'][0]['text']")" "('max_tokens', 'The answer was cut')" "finish_reason length -> stop max_tokens"
turn odd '{"messages": ['"$USER1"']}'
is "$(out odd "d['status'], d['stop'], d['blocks']")" "('ok', 'other', [])" "finish_reason content_filter -> stop other"
turn odd '{"messages": ['"$USER1"']}'
is "$(out odd "d['stop'], d['blocks']")" "('other', [{'type': 'text', 'text': 'I can not help with that.'}])" \
    "a refusal -> its text, stop other"

# ------------------------------------- narrate after a repair request
fake narr '{"turns": [{"narrate": true}]}'
conf narr ''
FINDINGS='```json\n{\"findings\": [{\"fingerprint\": \"fp-0001\", \"account_name\": \"Acme\", \"title\": \"usage fell 40%\"}]}\n```'
turn narr '{"messages": [{"role": "user", "content": [{"type": "text", "text": "Write the narratives.\n'"$FINDINGS"'"}]},
  {"role": "assistant", "content": [{"type": "text", "text": "not JSON"}]},
  {"role": "user", "content": [{"type": "text", "text": "That was not valid JSON; answer again."}]}], "json_answer": true}'
is "$(out narr "__import__('json').loads(d['blocks'][0]['text'])['narratives'][0]['fingerprint']")" "fp-0001" \
    "narrate: the fake finds the findings in an earlier user message (after a repair request)"
is "$(rec narr "[m['role'] for m in R[0]['b']['messages']], R[0]['b']['messages'][1]")" \
    "(['user', 'assistant', 'user'], {'role': 'assistant', 'content': 'not JSON'})" "narrate: the earlier assistant text as its content"

# ------------------------------------------------ the contract's limits
fake lim '{"turns": [{"text": "x"}]}'
conf lim ''
turn lim '{"messages": ['"$USER1"'], "tools": [{"name": "broken", "description": "d", "input_schema": "not a schema"}]}'
is "$(out lim "d['status']")" "error" "a tool schema that is not a JSON object: error"
error_has lim "tool 'broken': input_schema is not a JSON object" "and it says which tool"
is "$(rec lim "len(R)")" 0 "nothing was sent"

# ---------------------------------------------------------- base_url / 404
fake nf '{"turns": [{"text": "x"}]}'
cat > "$TMP/nf.conf" <<C
plugin_dir = "$TMP/plugins";
retry = { interval = 0.05; max_attempts = 3; };
models = { m = { plugin = "openai"; base_url = "http://127.0.0.1:$PORT/api"; }; };
C
turn nf '{"messages": ['"$USER1"']}'
error_has nf "HTTP 404 invalid_request_error" "a wrong base_url: the server's 404"
error_has nf "check base_url and model" "a wrong base_url: says what to check"

exec 8>&-
done_testing
