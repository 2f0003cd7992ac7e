#!/bin/sh
# The salesforce source through the real revops binary, against
# tests/fake_salesforce.py (token endpoint, query resource, nextRecordsUrl
# pages): client-credentials auth, the API called on the token's
# instance_url, paging (every page, in order, once), typed columns, the
# spec's chunk contract, and each fault with what revops did about it.
# No secret and no token may appear in any output.
. "$top_srcdir/tests/tap.sh"
tap_tmpdir
plugin_dir_with salesforce.so tp_sum.so
# A key pair for the JWT bearer flow; the fake verifies signatures with `openssl dgst`.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/jwt.key" 2> /dev/null &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/other.key" 2> /dev/null &&
    openssl pkey -in "$TMP/jwt.key" -pubout -out "$TMP/jwt.pub" 2> /dev/null ||
    { echo "Bail out! openssl cannot make an RSA key pair"; exit 1; }
chmod 600 "$TMP/jwt.key" "$TMP/other.key"
start_fake fake_salesforce.py SF_SLEEP=6 SF_JWT_PUBKEY="$TMP/jwt.pub"
BASE="http://127.0.0.1:$FAKE_PORT"
SF_TEST_CLIENT_ID=3MVG9fakeConsumerKey0001
SF_TEST_SECRET=fakeConsumerSecret0001
export SF_TEST_CLIENT_ID SF_TEST_SECRET

ctl() {   # ctl PATH: a control request to the fake
    "$PYTHON" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
        "$BASE/_fake/$1"
}
fstat() {  # fstat EXPR: the fake's counters, as a Python expression on d
    ctl stats > "$TMP/stats.json"
    jget "$TMP/stats.json" "$1"
}
fault() {  # fault KIND [TIMES [PAGE]]: counters to zero, then arm the fault
    ctl reset > /dev/null
    ctl "fault?kind=$1&times=${2:-1}&page=${3:-0}" > /dev/null
}
# conf NAME [SOURCE-OPTIONS] [MAX-ATTEMPTS] [HTTP-TIMEOUT]
conf() {
    cat > "$TMP/$1.conf" <<C
plugin_dir = "$TMP/plugins";
state_dir = "state";
retry = { interval = 0.05; backoff_rate = 2.0; max_attempts = ${3:-3}; };
http = { timeout = ${4:-30}; };
sources = { sf = { plugin = "salesforce"; login_url = "$BASE"; client_id = "env:SF_TEST_CLIENT_ID";
                   client_secret = "env:SF_TEST_SECRET"; rows_per_chunk = 1000; $2 }; };
pipelines = { p = { analysis = "A5";
                    inputs = { rows = { source = "sf"; query = "SELECT Id, Name FROM Opportunity ORDER BY Id"; row_limit = 10; }; }; }; };
C
}
# q NAME CONF SOQL [revops query options]: -> $TMP/NAME.json and NAME.err; returns revops' status
q() {
    n=$1 c=$2 s=$3
    shift 3
    "$REVOPS" query -c "$TMP/$c.conf" -s sf -q "$s" "$@" > "$TMP/$n.json" 2> "$TMP/$n.err"
}
OPPS="SELECT Id, Name, Amount, CloseDate, StageName FROM Opportunity"
ALL_IDS="['006%015d' % (i + 1) for i in range(4500)]"
conf base

# --------------------------------------------------------------- auth, paging
ctl reset > /dev/null
q all base "$OPPS" --rows-per-chunk 5000
is "$?" 0 "a 4500-record query: exit 0"
is "$(jget "$TMP/all.json" "d['columns'], d['column_types']")" \
   "(['Id', 'Name', 'Amount', 'CloseDate', 'StageName'], ['text', 'text', 'double', 'date', 'text'])" \
   "columns in select-list order, typed from the JSON values (CloseDate: a date)"
is "$(jget "$TMP/all.json" "[r[0] for r in d['results']] == $ALL_IDS")" "True" \
   "every record of the 3 pages arrives, in order, once"
is "$(jget "$TMP/all.json" "d['results'][0], d['results'][49][2]")" \
   "(['006000000000000001', 'Opportunity 00001', 1000.0, '2025-01-01', 'Prospecting'], None)" "cells as Salesforce sent them; a null Amount is null"
is "$(fstat "d['token_requests'], d['tokens_issued'], d['pages'], d['bad_host'], d['auth_failures']")" "(1, 1, [1, 2, 3], 0, 0)" \
   "one token (client credentials), three pages, all on the token's instance_url"
is "$(fstat "d['soql'], sorted(set(d['batch_sizes']))")" "(['$OPPS'], ['batchSize=2000'])" \
   "the SOQL reaches Salesforce unchanged; Sforce-Query-Options asks for batchSize=2000"

ctl reset > /dev/null
q c2 base "$OPPS" --chunk 2
is "$?" 0 "chunk 2: exit 0"
is "$(jget "$TMP/c2.json" "d['success'], d['chunked'], d['chunk_index'], d['total_chunks'], d['total_rows'], d['rows_per_chunk'], len(d['results'])")" \
   "(True, True, 2, 5, 4500, 1000, 1000)" "chunk 2 of 5 in the spec's chunk contract"
is "$(jget "$TMP/c2.json" "d['results'][0][0], d['results'][-1][0], d['query_info']")" \
   "('006000000000002001', '006000000000003000', {'query': '$OPPS', 'source': 'sf'})" "chunk 2 holds records 2001..3000"
q c4 base "$OPPS" --chunk 4
is "$(jget "$TMP/c4.json" "len(d['results']), d['results'][-1][0]")" "(500, '006000000000004500')" "the last chunk ends with the last record"
q c5 base "$OPPS" --chunk 5
is "$?" 1 "chunk 5 of 5: exit 1"
like "$TMP/c5.json" "chunk 5 is out of range: the result has 5 chunks (4500 rows, 1000 rows per chunk)" "out of range, said so"
is "$(fstat "d['token_requests'], d['tokens_issued']")" "(3, 3)" "each revops process takes its own token"

conf small "page_size = 500;"
ctl reset > /dev/null
q small small "$OPPS" --rows-per-chunk 5000
is "$(jget "$TMP/small.json" "[r[0] for r in d['results']] == $ALL_IDS")" "True" "page_size 500: all records, in order, once"
is "$(fstat "d['pages'], sorted(set(d['batch_sizes']))")" "([1, 2, 3, 4, 5, 6, 7, 8, 9], ['batchSize=500'])" \
   "page_size 500: batchSize=500, nine pages followed through nextRecordsUrl"

ctl reset > /dev/null
"$REVOPS" query -c "$TMP/base.conf" -p p -i rows > "$TMP/limit.json" 2> "$TMP/limit.err"
is "$(jget "$TMP/limit.json" "len(d['results']), d['results'][-1][0]")" "(10, '006000000000000010')" "row_limit 10: ten rows"
is "$(fstat "d['pages']")" "[1]" "row_limit 10: no page after the first"

# ----------------------------------------------------------- shapes and types
q rel base "SELECT Id, Account.Name, IsWon, Probability, CreatedDate, CloseDate FROM Opportunity WHERE StageName = 'Closed Won' ORDER BY Id LIMIT 20"
is "$?" 0 "a relationship query: exit 0"
is "$(jget "$TMP/rel.json" "d['columns'], d['column_types']")" \
   "(['Id', 'Account.Name', 'IsWon', 'Probability', 'CreatedDate', 'CloseDate'], ['text', 'text', 'boolean', 'double', 'timestamp', 'date'])" \
   "Account.Name flattened; booleans; CreatedDate (a date-time) as a timestamp"
is "$(jget "$TMP/rel.json" "d['results'][0][1:5], d['results'][13][:2]")" \
   "(['Account 006 Inc', True, 65.0, '2024-01-06 00:00:05.000'], ['006000000000000097', None])" \
   "relationship values; a record without an account has a null Account.Name"
q lower base "select id, account.name, amount from opportunity order by id limit 3"
is "$(jget "$TMP/lower.json" "d['columns'], len(d['results'])")" "(['Id', 'Account.Name', 'Amount'], 3)" \
   "lower-case SOQL: columns spelled as Salesforce spells them"
q acct base "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, BillingCountry FROM Account WHERE Name LIKE 'Account 00%' ORDER BY Name"
is "$(jget "$TMP/acct.json" "d['column_types'], len(d['results']), d['results'][5][3]")" \
   "(['text', 'text', 'integer', 'double', 'text'], 9, None)" "Account: integers and doubles; a null AnnualRevenue"
q empty base "SELECT Id, Name FROM Account WHERE Name = 'nobody'"
is "$?" 0 "an empty result: exit 0"
is "$(jget "$TMP/empty.json" "d['success'], d['columns'], d['results']")" "(True, ['Id', 'Name'], [])" \
   "an empty result keeps the select list's columns"

q count base "SELECT COUNT() FROM Opportunity WHERE StageName = 'Closed Won'"
is "$(jget "$TMP/count.json" "d['columns'], d['column_types'], d['results']")" "(['count'], ['integer'], [[643]])" \
   "SELECT COUNT(): Salesforce's totalSize as one row"

# ------------------------------------------------------------ Salesforce errors
q badq base "SELECT Id FRM Opportunity"
is "$?" 1 "MALFORMED_QUERY: exit 1"
like "$TMP/badq.json" "Salesforce query 'SELECT Id FRM Opportunity': page 1: HTTP 400: MALFORMED_QUERY: SELECT Id FRM Opportunity ^ ERROR at Row:1:Column:11 unexpected token: 'FRM'" \
     "MALFORMED_QUERY: Salesforce's code and message, with the SOQL"
q badf base "SELECT Id, Nmae
FROM Account"
is "$?" 1 "INVALID_FIELD: exit 1"
like "$TMP/badf.json" "Salesforce query 'SELECT Id, Nmae ...': page 1: HTTP 400: INVALID_FIELD: SELECT Id, Nmae FROM Account ^ ERROR at Row:1:Column:12 No such column 'Nmae' on entity 'Account'." \
     "INVALID_FIELD: the SOQL's first line and Salesforce's text"
q badt base "SELECT Id FROM Opportunities"
like "$TMP/badt.json" "HTTP 400: INVALID_TYPE: SELECT Id FROM Opportunities ^ ERROR at Row:1:Column:16 sObject type 'Opportunities' is not supported." "INVALID_TYPE"
fault malformed_query
q mq base "$OPPS"
is "$?" 1 "an injected MALFORMED_QUERY error array: exit 1"
like "$TMP/mq.json" "HTTP 400: MALFORMED_QUERY:" "and it is reported as Salesforce said it"
is "$(fstat "d['query_requests']")" 1 "a 400 is not retried"

# ------------------------------------------------------------------- auth faults
SF_TEST_SECRET=wrong-secret-value q badsecret base "$OPPS"
is "$?" 1 "a wrong client secret: exit 1"
like "$TMP/badsecret.json" "Salesforce query '$OPPS': token request to $BASE/services/oauth2/token refused: HTTP 400: invalid_client: invalid client credentials" \
     "the token endpoint's error and error_description, with the query"
SF_TEST_CLIENT_ID=3MVG9unknownKey q badid base "$OPPS"
like "$TMP/badid.json" "HTTP 400: invalid_client_id: client identifier invalid" "an unknown client id: Salesforce's error"
fault token503
q tok503 base "$OPPS"
is "$?" 0 "the token endpoint answers 503 once: retried, exit 0"
is "$(fstat "d['token_requests'], d['tokens_issued']")" "(2, 1)" "two token requests, one token"

fault expired 1 2
q expired base "$OPPS" --rows-per-chunk 5000
is "$?" 0 "the session expires on page 2 (401 INVALID_SESSION_ID): exit 0"
is "$(jget "$TMP/expired.json" "[r[0] for r in d['results']] == $ALL_IDS")" "True" "all records, in order, once"
is "$(fstat "d['tokens_issued'], d['pages'], d['auth_failures']")" "(2, [1, 2, 2, 3], 0)" \
   "the token was dropped, a new one taken, page 2 asked again"
like "$TMP/expired.err" "page 2: HTTP 401: INVALID_SESSION_ID: Session expired or invalid; getting a new access token" "the refresh is logged"
fault always401 -1
q always401 base "$OPPS"
is "$?" 1 "401 even with a fresh token: exit 1"
like "$TMP/always401.json" "Salesforce query '$OPPS': page 1: Salesforce refused a freshly issued access token: HTTP 401: INVALID_SESSION_ID: Session expired or invalid" \
     "says a fresh token was refused too"
is "$(fstat "d['tokens_issued'], d['query_requests']")" "(2, 2)" "exactly one refresh, not a loop"

# ------------------------------------------------------------- transient faults
for code in 429 503; do
    fault "$code" 1 2
    start=$(date +%s.%N)
    q "f$code" base "$OPPS" --rows-per-chunk 5000
    rc=$?
    took=$("$PYTHON" -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]) >= 1.0)" "$start" "$(date +%s.%N)")
    is "$rc" 0 "HTTP $code with Retry-After once on page 2: exit 0"
    is "$(jget "$TMP/f$code.json" "[r[0] for r in d['results']] == $ALL_IDS") $(fstat "d['pages']") $took" \
       "True [1, 2, 2, 3] True" "HTTP $code: page 2 asked again after Retry-After (1 s); every record once"
    like "$TMP/f$code.err" "HTTP $code; retrying in 1.00s (Retry-After)" "HTTP $code: the retry is logged"
done
fault 500 1
q f500 base "$OPPS" --rows-per-chunk 5000
is "$?" 0 "HTTP 500 once: retried, exit 0"
is "$(fstat "d['pages']")" "[1, 1, 2, 3]" "HTTP 500: page 1 asked twice"
fault 500 -1
q f500x base "$OPPS"
is "$?" 1 "HTTP 500 every time: exit 1"
like "$TMP/f500x.json" "Salesforce query '$OPPS': page 1: HTTP 500 after 3 attempts: UNKNOWN_EXCEPTION: An unexpected error occurred." \
     "HTTP 500: attempts and Salesforce's message"
is "$(fstat "len(d['pages'])")" 9 "3 fetch attempts of 3 HTTP attempts each, then it gives up"

fault limit 1
q lim base "$OPPS" --rows-per-chunk 5000
is "$?" 0 "403 REQUEST_LIMIT_EXCEEDED once: the fetch is retried, exit 0"
like "$TMP/lim.err" "Salesforce's API request limit is used up (HTTP 403: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.); try again later; retry 1 of 2" \
     "REQUEST_LIMIT_EXCEEDED is transient (RETRY), and said so"
fault limit -1
q limx base "$OPPS"
is "$?" 1 "REQUEST_LIMIT_EXCEEDED every time: exit 1"
like "$TMP/limx.json" "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." "with Salesforce's message"

conf slow "" 3 2
fault timeout 1 2
q slow slow "$OPPS" --rows-per-chunk 5000
is "$?" 0 "page 2 times out once (http.timeout 2 s, the fake waits 6 s): retried, exit 0"
is "$(jget "$TMP/slow.json" "[r[0] for r in d['results']] == $ALL_IDS") $(fstat "d['pages']")" "True [1, 2, 2, 3]" \
   "timeout: page 2 asked again; every record once"
conf once "" 1 2
fault timeout -1 1
q slowx once "$OPPS"
is "$?" 1 "a page that always times out: exit 1"
like "$TMP/slowx.json" "Timeout was reached" "the timeout is named"
like "$TMP/slowx.json" "Salesforce query '$OPPS': page 1: GET http://localhost:$FAKE_PORT/services/data/v60.0/query: Timeout was reached" \
     "the host's reason, with the query and the page"

fault truncate 1 2
q trunc base "$OPPS" --rows-per-chunk 5000
is "$?" 0 "page 2 cut off mid-body once: exit 0"
is "$(jget "$TMP/trunc.json" "[r[0] for r in d['results']] == $ALL_IDS")" "True" \
   "after the fetch retry every record arrives once, in order (none twice)"
is "$(fstat "d['pages']")" "[1, 2, 1, 2, 3]" "the retried fetch starts over and skips the rows already taken"
like "$TMP/trunc.err" "fetch: Salesforce query '$OPPS': page 2: GET http://localhost:$FAKE_PORT/services/data/v60.0/query/01gFAKE" \
     "the fetch retry is logged with the query and the page"
like "$TMP/trunc.err" "elements were received (transient; retries exhausted); retry 1 of 2" "and how far the page got"

fault malformed 1 2
q badjson base "$OPPS"
is "$?" 1 "malformed JSON on page 2: exit 1"
like "$TMP/badjson.json" "invalid JSON at byte" "the JSON error, with its byte offset"
like "$TMP/badjson.json" "Salesforce query '$OPPS': page 2: GET http://localhost:$FAKE_PORT/services/data/v60.0/query/01gFAKE" \
     "the error names the query and the page"

fault wrongtype 1 2
q wt base "$OPPS"
is "$?" 1 "a string where Amount was a number (page 2): exit 1"
like "$TMP/wt.json" "Salesforce query '$OPPS': page 2, record 3001 (Id 006000000000003001): field Amount holds a string (\\\"lots\\\"), not a number as in the first records" \
     "names the page, the record, the field and both types"
fault wrongtype_first 1 1
q wt1 base "$OPPS"
is "$?" 1 "a wrong type inside the first page: exit 1"
like "$TMP/wt1.json" "page 1, record 5 (Id 006000000000000005): field Amount holds a string" "found while the first batch is typed"
fault done_string 1 1
q ds base "$OPPS"
is "$?" 1 "\"done\": \"false\" (a string): exit 1"
like "$TMP/ds.json" "page 1: \\\"done\\\" is a string, not a boolean" "names the member and its type"
fault bad_next 1 1
q bn base "$OPPS"
is "$?" 1 "a nextRecordsUrl on another host: exit 1"
like "$TMP/bn.json" "nextRecordsUrl is 'http://evil.example:" "refused: the token is only sent to the instance_url"

# ------------------------------------------------------------------ JWT, options
cat > "$TMP/key.pem" <<'K'
-----BEGIN PRIVATE KEY-----
not a real key
-----END PRIVATE KEY-----
K
chmod 600 "$TMP/key.pem"
conf jwt "auth_flow = \"jwt_bearer\"; username = \"integration@acme.example\"; private_key = \"file:$TMP/key.pem\";"
q jwt jwt "$OPPS"
is "$?" 1 "jwt_bearer with a key that is not an RSA key: exit 1"
like "$TMP/jwt.json" "JWT bearer flow: signing the assertion: the private key is not an unencrypted PEM RSA private key" \
     "says what is wrong with the key, without showing it"
unlike "$TMP/jwt.json" "not a real key" "the key's text is not in the message"
conf jwtnouser "auth_flow = \"jwt_bearer\"; private_key = \"file:$TMP/key.pem\";"
q jwtnouser jwtnouser "$OPPS"
like "$TMP/jwtnouser.json" "auth_flow \\\"jwt_bearer\\\" needs the option username" "jwt_bearer without username: named"
conf plainhttp
sed -i "s|login_url = \"$BASE\"|login_url = \"http://login.example.com\"|" "$TMP/plainhttp.conf"
q plainhttp plainhttp "$OPPS"
like "$TMP/plainhttp.json" "option login_url must be an https:// URL" "a plain-http login URL off loopback is refused"
conf ps "page_size = 100;"
"$REVOPS" check-config -c "$TMP/ps.conf" > "$TMP/ps.out" 2> "$TMP/ps.err"
is "$?" 78 "page_size 100: a config error"
like "$TMP/ps.err" "page_size" "naming the option"
"$REVOPS" plugins -c "$TMP/base.conf" > "$TMP/plugins.out" 2> "$TMP/plugins.err"
like "$TMP/plugins.out" "tool: soql_query" "revops plugins lists the soql_query tool"
like "$TMP/plugins.out" "tool: get_opportunities" "and get_opportunities"
like "$TMP/plugins.out" "tool: get_accounts" "and get_accounts"

# --------------------------------------------- tools and the JWT bearer flow
# The CLI has no tool command yet: tests/source_tool runs a source's tool (or
# a query) through the real host services, optionally with the sign_rs256
# service the JWT flow asks the core for.
: "${SOURCE_TOOL:=$top_builddir/tests/source_tool}"
skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $SOURCE_TOOL is not built"
}
tool() {   # tool NAME CONF INPUT-JSON TOOL: -> $TMP/NAME.json, .err
    "$SOURCE_TOOL" -c "$TMP/$2.conf" -s sf -t "$4" -i "$3" > "$TMP/$1.json" 2> "$TMP/$1.err"
}
conf jwtok "auth_flow = \"jwt_bearer\"; username = \"integration@acme.example\"; private_key = \"file:$TMP/jwt.key\";"
conf jwtother "auth_flow = \"jwt_bearer\"; username = \"integration@acme.example\"; private_key = \"file:$TMP/other.key\";"
if [ -x "$SOURCE_TOOL" ]; then
    ctl reset > /dev/null
    tool opp base '{"stage":"Closed Won","min_amount":80000,"close_date_from":"2025-06-01","limit":3}' get_opportunities
    is "$?" 0 "tool get_opportunities: exit 0"
    is "$(jget "$TMP/opp.json" "d['columns'], d['column_types'][5:8]")" \
       "(['Id', 'Name', 'AccountId', 'Account.Name', 'StageName', 'Amount', 'Probability', 'CloseDate', 'Type', 'IsClosed', 'IsWon', 'OwnerId', 'CreatedDate', 'LastModifiedDate'], ['double', 'double', 'date'])" \
       "get_opportunities: its fixed field list, typed"
    is "$(jget "$TMP/opp.json" "len(d['results']), all(r[4] == 'Closed Won' and r[5] >= 80000 and r[7] >= '2025-06-01' for r in d['results'])")" \
       "(3, True)" "get_opportunities: the filters hold for every row, limit 3"
    is "$(fstat "d['soql'][-1]")" \
       "SELECT Id, Name, AccountId, Account.Name, StageName, Amount, Probability, CloseDate, Type, IsClosed, IsWon, OwnerId, CreatedDate, LastModifiedDate FROM Opportunity WHERE StageName = 'Closed Won' AND CloseDate >= 2025-06-01 AND Amount >= 80000 ORDER BY CloseDate, Id LIMIT 3" \
       "get_opportunities: the SOQL it sends"
    tool oppacct base '{"account_id":"001000000000000007","is_closed":false}' get_opportunities
    is "$(jget "$TMP/oppacct.json" "len(d['results']), {(r[2], r[9]) for r in d['results']}")" "(79, {('001000000000000007', False)})" \
       "get_opportunities by account and open: only that account's open opportunities"
    tool acc base '{"name_contains":"01","industry":"Finance"}' get_accounts
    is "$(jget "$TMP/acc.json" "d['success'], [r[1] for r in d['results']], d['column_types'][5]")" \
       "(True, ['Account 012 SA', 'Account 017 Ltd'], 'double')" "get_accounts: name and industry filters"
    tool accq base "{\"name_contains\":\"O'Brien 100%_\"}" get_accounts
    is "$(jget "$TMP/accq.json" "d['success'], d['results']")" "(True, [])" "get_accounts: quotes, % and _ in a filter are escaped"
    is "$(fstat "d['soql'][-1].split(' WHERE ')[1]")" "Name LIKE '%O\\'Brien 100\\%\\_%' ORDER BY Name, Id LIMIT 200" \
       "get_accounts: the LIKE literal as SOQL wants it"
    tool sq base '{"soql":"SELECT Id, Name FROM Opportunity ORDER BY Id","limit":5}' soql_query
    is "$(jget "$TMP/sq.json" "len(d['results']), d['results'][4][0]")" "(5, '006000000000000005')" "soql_query with limit 5"
    tool sqdel base '{"soql":"DELETE FROM Opportunity"}' soql_query
    is "$?" 1 "soql_query refuses anything but SELECT"
    like "$TMP/sqdel.json" "tool soql_query: only a SOQL SELECT statement is allowed" "and says so"
    tool bad1 base '{"stage":5}' get_opportunities
    like "$TMP/bad1.json" "tool get_opportunities: \\\"stage\\\" must be a string, not a number" "a wrongly typed input is named"
    tool bad2 base '{"region":"EMEA"}' get_accounts
    like "$TMP/bad2.json" "tool get_accounts: unknown input \\\"region\\\" (allowed: account_id, name_contains, industry, type, limit)" "an unknown input is named"
    tool bad3 base '{"close_date_from":"June"}' get_opportunities
    like "$TMP/bad3.json" "\\\"close_date_from\\\" must be a date \\\"YYYY-MM-DD\\\"" "a bad date is refused"
    tool bad4 base '{"account_id":"x\u0027 OR Name != \u0027"}' get_accounts
    like "$TMP/bad4.json" "must be a 15- or 18-character Salesforce Id" "an account_id that is not an Id is refused"
    tool bad5 base '{}' get_leads
    like "$TMP/bad5.json" "unknown tool 'get_leads'" "an unknown tool is named"

    ctl reset > /dev/null
    "$SOURCE_TOOL" --sign-rs256 -c "$TMP/jwtok.conf" -s sf -q "SELECT Id, Name FROM Account ORDER BY Id" > "$TMP/jwtok.json" 2> "$TMP/jwtok.err"
    is "$?" 0 "JWT bearer flow with a host that signs RS256: exit 0"
    is "$(jget "$TMP/jwtok.json" "len(d['results'])")" 40 "JWT bearer flow: the query's records"
    now=$(date +%s)
    is "$(fstat "d['jwt_claims']['iss'], d['jwt_claims']['sub'], d['jwt_claims']['aud'], 0 < d['jwt_claims']['exp'] - $now <= 180, d['tokens_issued']")" \
       "('$SF_TEST_CLIENT_ID', 'integration@acme.example', '$BASE', True, 1)" \
       "the assertion: iss = client_id, sub = username, aud = login URL, exp within 3 minutes; its RS256 signature verified"
    "$SOURCE_TOOL" --sign-rs256 -c "$TMP/jwtother.conf" -s sf -q "SELECT Id FROM Account" > "$TMP/jwtother.json" 2> "$TMP/jwtother.err"
    is "$?" 1 "JWT signed with a key Salesforce does not know: exit 1"
    like "$TMP/jwtother.json" "refused: HTTP 400: invalid_grant: invalid assertion: signature verification failed" "Salesforce's invalid_grant"
else
    for t in $(seq 21); do skip "tools and JWT bearer ($t)"; done
fi

# ------------------------------------------------------------------------ leaks
ctl stats > "$TMP/final-stats.json"
jget "$TMP/final-stats.json" "'\n'.join(d['issued'])" > "$TMP/tokens.txt"
is "$(wc -l < "$TMP/tokens.txt" | tr -d ' ')" "$(jget "$TMP/final-stats.json" "len(d['issued'])")" "the fake lists every token it issued"
leaks=""
for f in "$TMP"/*.json "$TMP"/*.err "$TMP"/*.out; do
    case $f in *stats.json) continue ;; esac
    for s in "$SF_TEST_SECRET" "$SF_TEST_CLIENT_ID" "wrong-secret-value" "3MVG9unknownKey" "$(sed -n 2p "$TMP/jwt.key")" \
             "$(sed -n 2p "$TMP/other.key")" $(cat "$TMP/tokens.txt"); do
        grep -qF -- "$s" "$f" && leaks="$leaks $(basename "$f")"
    done
done
is "$leaks" "" "no client id, client secret, private key or access token in any output"

done_testing
