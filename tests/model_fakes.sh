# Shared by the model-layer tests: start a provider's fake with a script and
# write the `models` entry that points at it.
#
# model_fake PROVIDER SCRIPT-FILE RECORD-FILE: (re)starts the fake for
# PROVIDER (anthropic, openai, bedrock) on a free loopback port; sets
# MODEL_CONF to the models entry "m = { ... };" for it.  The fake exits when
# the test does (its stdin is a fifo held open by fd 8).
MODEL_KEY=sk-fake-model-key-7731
AWS_KEY=AKIAFAKEAGENT0000001
AWS_SECRET=fakeAgentSecretKey/0000000000000000000001
model_fake() {
    provider=$1 script=$2 record=$3
    [ -n "${MODEL_FAKE_FIFO:-}" ] && exec 8>&-
    MODEL_FAKE_FIFO="$TMP/model_fake.$provider.$$.$(date +%s%N)"
    mkfifo "$MODEL_FAKE_FIFO"
    : > "$record"
    rm -f "$TMP/model_fake.port"
    case $provider in
    anthropic) set -- --api-key "$MODEL_KEY" ;;
    openai) set -- --api-key "$MODEL_KEY" ;;
    bedrock) set -- --access-key "$AWS_KEY" --secret-key "$AWS_SECRET" --region eu-central-1 ;;
    esac
    "$PYTHON" "$top_srcdir/tests/fake_$provider.py" --script "$script" --record "$record" "$@" \
        < "$MODEL_FAKE_FIFO" > "$TMP/model_fake.port" 2> "$TMP/model_fake.err" &
    exec 8> "$MODEL_FAKE_FIFO"
    for _ in $(seq 100); do
        grep -q PORT "$TMP/model_fake.port" 2>/dev/null && break
        sleep 0.05
    done
    port=$(sed -n 's/^PORT //p' "$TMP/model_fake.port")
    [ -n "$port" ] || { echo "Bail out! fake_$provider.py did not start: $(cat "$TMP/model_fake.err")"; exit 1; }
    case $provider in
    anthropic) MODEL_CONF="m = { plugin = \"anthropic\"; api_key = \"env:TEST_MODEL_KEY\"; base_url = \"http://127.0.0.1:$port\"; };" ;;
    openai) MODEL_CONF="m = { plugin = \"openai\"; api_key = \"env:TEST_MODEL_KEY\"; base_url = \"http://127.0.0.1:$port/v1\"; model = \"gpt-4o\"; };" ;;
    bedrock) MODEL_CONF="m = { plugin = \"bedrock\"; region = \"eu-central-1\"; endpoint = \"http://127.0.0.1:$port\"; };" ;;
    esac
}
export TEST_MODEL_KEY="$MODEL_KEY" AWS_ACCESS_KEY_ID="$AWS_KEY" AWS_SECRET_ACCESS_KEY="$AWS_SECRET"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION
# requests RECORD: how many requests the fake recorded
requests() { wc -l < "$1" | tr -d ' '; }
# bodies RECORD OUT: every recorded request body, one per line, to OUT, with
# JSON escapes undone (\u00f6 -> ö, and a JSON text inside a string too), so a
# value is found however a plugin escaped it.
bodies() {
    "$PYTHON" - "$1" > "$2" <<'PY'
import json, sys
def walk(v):
    if isinstance(v, str):
        try:
            inner = json.loads(v)
            if isinstance(inner, (dict, list)):
                return v + " " + json.dumps(walk(inner), ensure_ascii=False)
        except ValueError:
            pass
        return v
    if isinstance(v, list):
        return [walk(x) for x in v]
    if isinstance(v, dict):
        return {k: walk(x) for k, x in v.items()}
    return v
for line in open(sys.argv[1]):
    body = json.loads(line)["body"]
    try:
        print(json.dumps(walk(json.loads(body)), ensure_ascii=False))
    except ValueError:
        print(body)
PY
}
