#!/bin/sh
# The data agent (`revops ask`, core/agent.c) against each provider's fake
# (anthropic, openai, bedrock), driven by the same scripts: the tool loop
# (tool call -> classified result -> answer), pseudonyms mapped back in tool
# input and answer, a tool the config does not offer, a write refused by the
# source, a loop cut at max_steps, malformed JSON, throttling, a 5xx, the
# token budget, the row cap, the run record, transcripts and their retention.
# Every request body the fakes recorded is checked: no RESTRICTED value and no
# raw value of a pseudonymised field ever leaves.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/model_fakes.sh"
tap_tmpdir
[ -n "${KEEP_TMP:-}" ] && trap - EXIT && echo "# TMP=$TMP"
export REVOPS_PLUGIN_PATH="$PLUGINS"
export REVOPS_TEST_PSEUDONYM_KEY="agent-test-pseudonym-key"

sqlite3 "$TMP/crm.db" <<'SQL'
CREATE TABLE accounts (sf_account_id TEXT, sf_account_name TEXT, account_region TEXT, contact_email TEXT, note TEXT, arr REAL);
INSERT INTO accounts VALUES
 ('001A', 'Acme Corp', 'EMEA', 'cfo@acme.example', 'Renewal call with Acme Corp; write to cfo@acme.example', 120000),
 ('001B', 'O''Brien & Söhne GmbH', 'EMEA', 'anna@obrien.example', 'O''Brien & Söhne GmbH asked for a discount', 80000),
 ('001C', '東京アナリティクス', 'APAC', 'kenji@tokyo.example', 'Kenji (kenji@tokyo.example) is the champion', 50000),
 ('001D', 'Zeta Labs', 'NA', 'ops@zeta.example', 'quiet quarter', 20000),
 ('001E', 'Yonder Inc', 'NA', 'cto@yonder.example', 'expansion talk', 90000);
SQL
RAW_VALUES="Acme Corp|O'Brien & Söhne GmbH|東京アナリティクス|Zeta Labs|Yonder Inc|cfo@acme.example|anna@obrien.example|kenji@tokyo.example|ops@zeta.example|cto@yonder.example"
# The pseudonym classify.c documents: ANON_ + 12 hex of HMAC-SHA256(SHA-256(key), value).
pseudonym() {
    "$PYTHON" -c 'import hashlib,hmac,sys; k=hashlib.sha256(sys.argv[1].encode()).digest(); print("ANON_"+hmac.new(k, sys.argv[2].encode(), hashlib.sha256).hexdigest()[:12])' \
        "$REVOPS_TEST_PSEUDONYM_KEY" "$1"
}
ACME=$(pseudonym "Acme Corp")

conf() {  # conf EXTRA-AGENT-SETTINGS -> $TMP/agent.conf for the current fake
    cat > "$TMP/agent.conf" <<C
state_dir = "$TMP/state";
retry = { interval = 0.05; max_attempts = 3; };
knowledge_base = "$top_srcdir/config/kb";
classification = { default = "RESTRICTED"; key = "env:REVOPS_TEST_PSEUDONYM_KEY"; };
sources = { warehouse = { plugin = "sqlite"; database = "$TMP/crm.db";
    fields = { sf_account_id = "INTERNAL"; sf_account_name = "CONFIDENTIAL"; account_region = "PUBLIC";
               contact_email = "RESTRICTED"; note = "INTERNAL"; arr = "INTERNAL"; n = "PUBLIC"; }; }; };
models = { $MODEL_CONF };
agent = { model = "m"; max_steps = 4; $1 };
C
}
script() {  # script NAME JSON
    printf '%s\n' "$2" > "$TMP/$1.json"
}
ask() {  # ask ARGS... -> $TMP/out, $TMP/err; returns revops' status
    "$REVOPS" ask -c "$TMP/agent.conf" "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    [ -n "${AGENT_TEST_DEBUG:-}" ] && sed 's/^/# err: /' "$TMP/err"
    return $rc
}
no_raw_values() {  # no_raw_values BODIES NAME
    leaked=$(echo "$RAW_VALUES" | tr '|' '\n' | while IFS= read -r v; do grep -qF -- "$v" "$1" && echo "$v"; done)
    is "$leaked" "" "$2"
}

fake() {  # fake SCRIPT-NAME [AGENT-SETTINGS]: the provider's fake on that script, and a config for it
    model_fake "$P" "$TMP/$1.json" "$REC"
    conf "${2:-}"
}
SELECT_ALL='{"sql": "SELECT sf_account_id, sf_account_name, account_region, contact_email, note, arr FROM accounts ORDER BY sf_account_id"}'
for P in anthropic openai bedrock; do
    echo "# provider $P"
    REC="$TMP/$P.rec"

    # The tool loop: a query, the classified result, an answer quoting it.
    script loop "{\"turns\": [{\"tool_calls\": [{\"name\": \"warehouse__sql_query\", \"input\": $SELECT_ALL}]}, {\"echo_tool_results\": true}]}"
    fake loop
    ask "Which accounts renew soon?"; is "$?" 0 "$P: ask answers after one tool call"
    is "$(requests "$REC")" 2 "$P: two model turns (tool call, answer)"
    like "$TMP/out" "Acme Corp" "$P: the answer names Acme Corp (pseudonym mapped back)"
    like "$TMP/out" "O'Brien & Söhne GmbH" "$P: and O'Brien & Söhne GmbH"
    like "$TMP/out" "東京アナリティクス" "$P: and 東京アナリティクス"
    unlike "$TMP/out" "ANON_" "$P: no pseudonym is left in the answer"
    unlike "$TMP/out" "cfo@acme.example" "$P: the RESTRICTED e-mail is not in the answer either"
    bodies "$REC" "$TMP/bodies"
    no_raw_values "$TMP/bodies" "$P: no account name and no e-mail in any request body"
    like "$TMP/bodies" "$ACME" "$P: Acme Corp went out as HMAC-SHA256 pseudonym $ACME"
    like "$TMP/bodies" "withheld_columns" "$P: the result says which columns were withheld"
    like "$TMP/bodies" "[REDACTED]" "$P: the e-mail quoted in a note was scrubbed"
    like "$TMP/bodies" "Renewal call with $ACME" "$P: the name in the note became its pseudonym"
    like "$TMP/bodies" "warehouse__sql_query" "$P: the source's tool was offered by its qualified name"
    like "$TMP/bodies" "Table salesforce_account_d" "$P: knowledge base passages went into the prompt"
    tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
    is "$(jget "$TMP/rec.json" "(d['kind'], d['status'], d['agent']['stop'], d['agent']['steps'])")" "('ask', 'ok', 'answer', 2)" "$P: run record: kind ask, ok, answered in 2 steps"
    is "$(jget "$TMP/rec.json" "[(c['tool'], c['status'], c['rows'], c['result_bytes'] > 100) for c in d['agent']['tool_calls']]")" \
        "[('warehouse__sql_query', 'ok', 5, True)]" "$P: run record keeps the tool call, its rows and result size"
    is "$(jget "$TMP/rec.json" "d['model']['input_tokens'] > 0 and d['model']['output_tokens'] > 0 and d['model']['calls'] == 2")" True "$P: token usage recorded"
    tr=$(ls -t "$TMP/state/transcripts/" | head -n 1)
    like_name=$(echo "$tr" | grep -c -- "-agent.CONFIDENTIAL.jsonl\$")
    is "$like_name" 1 "$P: transcript kept, named by the most sensitive class sent ($tr)"
    cp "$TMP/state/transcripts/$tr" "$TMP/tr.all"
    no_raw_values "$TMP/tr.all" "$P: the transcript holds no raw name or e-mail"
    for f in "$TMP/out" "$TMP/err" "$TMP/state/runs.jsonl" "$TMP/tr.all"; do unlike "$f" "$MODEL_KEY" "$P: the API key is not in $(basename "$f")"; done
    unlike "$TMP/state/runs.jsonl" "$AWS_SECRET" "$P: the AWS secret is not in the run record"

    # A pseudonym the model saw, used in its next query, reaches the source as the value.
    script pseudo "{\"turns\": [{\"tool_calls\": [{\"name\": \"warehouse__sql_query\", \"input\": $SELECT_ALL}]}, {\"tool_calls\": [{\"name\": \"warehouse__sql_query\", \"input\": {\"sql\": \"SELECT sf_account_id, arr FROM accounts WHERE sf_account_name = '$ACME'\"}}]}, {\"echo_tool_results\": true}]}"
    fake pseudo
    ask "What is Acme's ARR?"; is "$?" 0 "$P: a query written with a pseudonym runs"
    like "$TMP/out" '"rows":[["001A",120000]]' "$P: and finds Acme's row (the pseudonym was mapped back for the source)"
    bodies "$REC" "$TMP/bodies"
    like "$TMP/bodies" "WHERE sf_account_name = '$ACME'" "$P: the model's query went out with the pseudonym"
    no_raw_values "$TMP/bodies" "$P: and no raw value left in that session either"

    # A tool the configuration does not offer, and a write: both refused to the model, the loop goes on.
    script bad "{\"turns\": [{\"tool_calls\": [{\"name\": \"warehouse__drop_everything\", \"input\": {}}, {\"name\": \"warehouse__sql_query\", \"input\": {\"sql\": \"DELETE FROM accounts\"}}]}, {\"text\": \"I could not do that.\"}]}"
    fake bad
    ask "Clean up the accounts"; is "$?" 0 "$P: refused tools do not end the session"
    bodies "$REC" "$TMP/bodies"
    like "$TMP/bodies" "no tool named 'warehouse__drop_everything' is offered" "$P: an unoffered tool is refused to the model"
    like "$TMP/bodies" "only a SELECT or WITH statement is allowed (got 'DELETE')" "$P: the source refused the DELETE, and the model was told"
    is "$(sqlite3 "$TMP/crm.db" 'SELECT count(*) FROM accounts')" 5 "$P: the table is intact"
    tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
    is "$(jget "$TMP/rec.json" "[c['status'] for c in d['agent']['tool_calls']]")" "['refused', 'error']" "$P: both refusals in the run record"

    # A loop that never ends: cut at max_steps.
    script forever "{\"repeat_last\": true, \"turns\": [{\"tool_calls\": [{\"name\": \"warehouse__sql_query\", \"input\": {\"sql\": \"SELECT count(*) AS n FROM accounts\"}}]}]}"
    fake forever
    ask --max-steps 3 "Count forever"; is "$?" 1 "$P: a never-ending loop ends without an answer"
    is "$(requests "$REC")" 3 "$P: after exactly max_steps = 3 model turns"
    like "$TMP/err" "no answer (max_steps)" "$P: and says why"

    # Malformed JSON from the provider.
    script broken '{"turns": [{"raw": "{\"content\": [ not json"}]}'
    fake broken
    ask "Anything"; is "$?" 1 "$P: malformed JSON from the provider fails cleanly"
    like "$TMP/err" "no answer (model_error)" "$P: as a model error"

    # Throttled once, then an answer: retried by the host.
    script throttle '{"turns": [{"status": 429, "retry_after": 0}, {"text": "All good."}]}'
    fake throttle
    ask "Status?"; is "$?" 0 "$P: throttling is retried"
    is "$(requests "$REC")" 2 "$P: one retry"
    like "$TMP/out" "All good." "$P: then the answer"

    # A 5xx that does not go away: max_attempts tries, then a clear error.
    script down '{"repeat_last": true, "turns": [{"status": 500, "error": "the fake is down"}]}'
    fake down
    ask "Status?"; is "$?" 1 "$P: a lasting 5xx fails the session"
    is "$(requests "$REC")" 3 "$P: after retry.max_attempts = 3 tries"
    like "$TMP/err" "HTTP 500" "$P: the error names the status"

    # The token budget stops the agent cleanly.
    script budget '{"repeat_last": true, "turns": [{"usage": {"input": 100, "output": 60}, "tool_calls": [{"name": "warehouse__sql_query", "input": {"sql": "SELECT 1 AS n"}}]}]}'
    fake budget "max_tokens = 150;"
    ask "Spend"; is "$?" 1 "$P: a spent budget ends the session"
    is "$(requests "$REC")" 1 "$P: no model call once the budget is spent"
    like "$TMP/err" "no answer (budget)" "$P: and says the budget stopped it"

    # The row cap.
    script cap "{\"turns\": [{\"tool_calls\": [{\"name\": \"warehouse__sql_query\", \"input\": $SELECT_ALL}]}, {\"echo_tool_results\": true}]}"
    fake cap "row_cap = 2;"
    ask "All accounts"; is "$?" 0 "$P: capped result answered"
    tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
    is "$(jget "$TMP/rec.json" "(d['agent']['tool_calls'][0]['rows'], d['agent']['tool_calls'][0]['truncated'])")" "(2, True)" "$P: row_cap = 2 keeps 2 rows and says truncated"
done

# A statement that would run forever is cut at agent.tool_timeout (the
# source's own statement timeout reads the instance's deadline); the model is
# told and the session goes on.
P=anthropic REC="$TMP/slow.rec"
script slow '{"turns": [{"tool_calls": [{"name": "warehouse__sql_query", "input": {"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"}}]}, {"text": "That query took too long."}]}'
fake slow "tool_timeout = 1;"
t0=$(date +%s)
ask "Count to infinity"; is "$?" 0 "a runaway query does not end the session"
t1=$(date +%s)
ok "$([ $((t1 - t0)) -lt 10 ]; echo $?)" "it was cut at tool_timeout = 1 s (the session took $((t1 - t0)) s)"
tail -n 1 "$TMP/state/runs.jsonl" > "$TMP/rec.json"
is "$(jget "$TMP/rec.json" "(d['agent']['tool_calls'][0]['status'], d['agent']['tool_calls'][0]['seconds'] < 5)")" "('error', True)" "the call is recorded as an error, after about a second"

# SOQL through the agent: a Salesforce source (the fake Salesforce API) offers
# its tools next to the warehouse's; its Name field is CONFIDENTIAL.
start_fake fake_salesforce.py
export SF_TEST_CLIENT_ID=3MVG9fakeConsumerKey0001 SF_TEST_SECRET=fakeConsumerSecret0001
SF_SOURCE="crm = { plugin = \"salesforce\"; login_url = \"http://127.0.0.1:$FAKE_PORT\"; client_id = \"env:SF_TEST_CLIENT_ID\"; client_secret = \"env:SF_TEST_SECRET\"; fields = { Id = \"INTERNAL\"; Name = \"CONFIDENTIAL\"; Amount = \"INTERNAL\"; }; };"
script soql '{"turns": [{"tool_calls": [{"name": "crm__soql_query", "input": {"soql": "SELECT Id, Name, Amount FROM Opportunity ORDER BY Id LIMIT 3"}}]}, {"echo_tool_results": true}]}'
fake soql
sed -i "s|^sources = { |sources = { $SF_SOURCE |" "$TMP/agent.conf"
ask "Our three first opportunities?"; is "$?" 0 "SOQL: the agent calls a Salesforce tool"
cat > "$TMP/sf.conf" <<C
sources = { $SF_SOURCE };
C
"$REVOPS" query -c "$TMP/sf.conf" -s crm -q "SELECT Id, Name, Amount FROM Opportunity ORDER BY Id LIMIT 3" > "$TMP/sf.json" 2> "$TMP/sf.err"
jget "$TMP/sf.json" "'\\n'.join(r[1] for r in d['results'])" > "$TMP/sf.names"
is "$(wc -l < "$TMP/sf.names" | tr -d ' ')" 3 "SOQL: the same query gives three opportunity names"
bodies "$REC" "$TMP/bodies"
leaked=$(while IFS= read -r n; do grep -qF -- "$n" "$TMP/bodies" && echo "$n"; done < "$TMP/sf.names")
is "$leaked" "" "SOQL: no opportunity name in any request body (Name is CONFIDENTIAL)"
missing=$(while IFS= read -r n; do grep -qF -- "$n" "$TMP/out" || echo "$n"; done < "$TMP/sf.names")
is "$missing" "" "SOQL: the answer names all three, mapped back"
like "$TMP/bodies" '\"pseudonymised_columns\":[\"Name\"]' "SOQL: the result says Name was pseudonymised"
like "$TMP/bodies" "crm__soql_query" "SOQL: offered as crm__soql_query"

# Retention: transcripts older than their class' retention_days are deleted.
mkdir -p "$TMP/state/transcripts"
touch -d '100 days ago' "$TMP/state/transcripts/old-agent.CONFIDENTIAL.jsonl" "$TMP/state/transcripts/old-agent.PUBLIC.jsonl"
touch -d '40 days ago' "$TMP/state/transcripts/older-agent.RESTRICTED.jsonl"
script throttle '{"turns": [{"text": "ok"}]}'
model_fake anthropic "$TMP/throttle.json" "$TMP/r.rec"
conf ""
ask "Anything"
ok "$([ ! -e "$TMP/state/transcripts/old-agent.CONFIDENTIAL.jsonl" ]; echo $?)" "retention: a CONFIDENTIAL transcript older than 90 days is deleted"
ok "$([ -e "$TMP/state/transcripts/old-agent.PUBLIC.jsonl" ]; echo $?)" "retention: a PUBLIC one of the same age is kept (365 days)"
ok "$([ ! -e "$TMP/state/transcripts/older-agent.RESTRICTED.jsonl" ]; echo $?)" "retention: RESTRICTED goes after 30 days"

# Configuration errors name file and line.
cat > "$TMP/bad.conf" <<C
classification = { default = "SECRET"; classes = { RESTRICTED = { can_embed = true; }; }; };
sources = { w = { plugin = "sqlite"; database = "$TMP/crm.db"; fields = { x = "TOP"; }; }; };
agent = { model = "nope"; max_steps = 2.5; };
pipelines = { p = { analysis = "A1"; narrate = 4; }; };
C
"$REVOPS" check-config -c "$TMP/bad.conf" > "$TMP/out" 2>&1; is "$?" 78 "a bad classification is a configuration error"
like "$TMP/out" "bad.conf:1: classification: 'default' = \"SECRET\" is not one of: PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED" "unknown default class, with file:line"
like "$TMP/out" "bad.conf:1: classification.classes.RESTRICTED: can_embed cannot be true: RESTRICTED data never reaches a model" "RESTRICTED can never be embedded"
like "$TMP/out" "bad.conf:2: source 'w' fields: 'x' = \"TOP\" is not one of" "a field's unknown class"
like "$TMP/out" "bad.conf:3: agent: no model named 'nope' in the models section (models: none)" "an unknown agent model"
like "$TMP/out" "bad.conf:3: agent: 'max_steps' must be a whole number, not 2.5" "a fractional count"
like "$TMP/out" "bad.conf:4: pipeline 'p': 'narrate' must be a model name or a group" "narrate of the wrong type"

# Without an agent: a clear error, no crash.
printf 'sources = { w = { plugin = "sqlite"; database = "%s"; }; };\n' "$TMP/crm.db" > "$TMP/none.conf"
"$REVOPS" ask -c "$TMP/none.conf" "hello" > "$TMP/out" 2>&1; is "$?" 78 "ask without an agent: configuration error"
like "$TMP/out" "configures no data agent" "and says what to add"
done_testing
