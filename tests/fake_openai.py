#!/usr/bin/python3
"""A fake OpenAI Chat Completions API for tests/model_openai.sh, loopback only,
written from OpenAI's public documentation:

  https://platform.openai.com/docs/api-reference/chat/create (and its OpenAPI
  spec, github.com/openai/openai-openapi):
      POST /v1/chat/completions, "Authorization: Bearer KEY"; body {model
      (required), messages (required, non-empty), tools, tool_choice,
      max_tokens (deprecated) | max_completion_tokens, temperature (0..2),
      response_format, ...}; an unknown member is refused ("Unrecognized
      request argument supplied").  messages: system / developer / user
      {role, content}, assistant {role, content (null only with tool_calls),
      tool_calls: [{id, type: "function", function: {name, arguments: a JSON
      *string*}}]}, tool {role, tool_call_id, content}.  tools: [{type:
      "function", function: {name (^[a-zA-Z0-9_-]{1,64}$), description,
      parameters (a JSON Schema object)}}].
      Answer: {id: "chatcmpl-...", object: "chat.completion", created, model
      (the dated snapshot: "gpt-4o" answers as "gpt-4o-2024-08-06"), choices:
      [{index, message: {role, content, refusal, tool_calls: [{id: "call_...",
      type, function: {name, arguments}}]}, logprobs, finish_reason: "stop" |
      "length" | "tool_calls" | "content_filter"}], usage: {prompt_tokens,
      completion_tokens, total_tokens, ...details}, system_fingerprint}.
  https://platform.openai.com/docs/guides/function-calling: tool messages
      answer the tool_calls of the assistant message right before them; an id
      not among them is a 400 "Invalid parameter: 'tool_call_id' of '...' not
      found in 'tool_calls' of previous message.", a tool message with no
      tool_calls before it is "messages with role 'tool' must be a response to
      a preceeding message with 'tool_calls'", and an unanswered call is "An
      assistant message with 'tool_calls' must be followed by tool messages
      responding to each 'tool_call_id'. ..." (wordings as the API sends them,
      quoted in public reports: github.com/dapr/dapr-agents/issues/145,
      github.com/sdcb/chats/pull/132, github.com/run-llama/llama_index/issues/10493).
  https://platform.openai.com/docs/guides/error-codes and
  https://platform.openai.com/docs/guides/rate-limits:
      errors are {"error": {"message", "type", "param", "code"}}; 401
      "Incorrect API key provided: sk-ab***...wxyz" (code invalid_api_key) or
      "You didn't provide an API key..." (no header); 429 "Rate limit reached
      ..." type "requests", code "rate_limit_exceeded", with retry-after and
      x-ratelimit-* headers; 500/503 type "server_error".
  https://platform.openai.com/docs/guides/structured-outputs (JSON mode):
      response_format {"type": "json_object"} needs the word "json" somewhere
      in the messages, else 400.
  Reasoning models (o1, o3, o4-mini, gpt-5...) refuse max_tokens: 400
      "Unsupported parameter: 'max_tokens' is not supported with this model.
      Use 'max_completion_tokens' instead." (code unsupported_parameter).

The script of turns is fake_model.py's.  OpenAI-only additions to a tool call
of a turn: "arguments": "TEXT" sends TEXT as the arguments string as is (a
model writing invalid JSON), "no_id": true leaves the id out (as some local
servers do).  A turn may carry "refusal": "TEXT" (message.refusal) and "stop":
"content_filter".

Usage: fake_openai.py --script FILE --record FILE [--api-key KEY]
(or the environment: OPENAI_FAKE_SCRIPT, OPENAI_FAKE_RECORD, OPENAI_FAKE_KEY).
With an API key, a request without "Authorization: Bearer KEY" gets the 401
and does not take a turn; without one, no authentication is asked for (like a
local llama.cpp / vLLM / Ollama server).  Prints "PORT n"; exits when stdin
closes.
"""
import argparse
import json
import os
import random
import re
import string
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_model  # noqa: E402

ENDPOINT = "/v1/chat/completions"
KNOWN_ARGS = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "n", "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty",
    "logit_bias", "logprobs", "top_logprobs", "user", "response_format", "seed", "store", "metadata",
    "reasoning_effort", "service_tier", "modalities", "prediction", "audio", "web_search_options",
    "functions", "function_call", "safety_identifier", "prompt_cache_key", "verbosity",
}
SNAPSHOTS = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
REASONING = re.compile(r"^(o\d|gpt-5)")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ALNUM = string.ascii_letters + string.digits


def rand_id(prefix, n):
    return prefix + "".join(random.choice(ALNUM) for _ in range(n))


def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def text_of(content):
    """A message content (string or array of text parts) as text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class OpenAI(fake_model.Provider):
    def __init__(self, api_key):
        self.api_key = api_key

    def route(self, method, path):
        return method == "POST" and path.split("?")[0] == ENDPOINT

    @staticmethod
    def body(status, message, etype, param=None, code=None, headers=()):
        doc = {"error": {"message": message, "type": etype, "param": param, "code": code}}
        return (status, [("Content-Type", "application/json")] + list(headers), json.dumps(doc).encode())

    def bad(self, message, param=None, code=None):
        return self.body(400, message, "invalid_request_error", param, code)

    def error(self, status, message, turn):
        if status == 429:
            ra = turn.get("retry_after", 1)
            return self.body(429, message, "requests", None, "rate_limit_exceeded",
                             [("retry-after", str(ra)), ("x-ratelimit-limit-requests", "500"),
                              ("x-ratelimit-remaining-requests", "0"),
                              ("x-ratelimit-reset-requests", "%ss" % ra)])
        if status >= 500:
            return self.body(status, message, "server_error")
        if status == 401:
            return self.body(401, message, "invalid_request_error", None, "invalid_api_key")
        if status == 403:
            return self.body(403, message, "invalid_request_error", None, "unsupported_country_region_territory")
        if status == 404:
            return self.body(404, message, "invalid_request_error", None, "model_not_found" if turn else None)
        return self.bad(message)

    # ------------------------------------------------------------- checks --
    def check(self, handler, body):
        if self.api_key is not None:
            auth = handler.headers.get("Authorization")
            if not auth or not auth.startswith("Bearer ") or not auth[7:].strip():
                return self.body(401, "You didn't provide an API key. You need to provide your API key in an "
                                 "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
                                 "as the password field (with blank username) if you're accessing the API from your "
                                 "browser and are prompted for a username. You can obtain an API key from "
                                 "https://platform.openai.com/account/api-keys.", "invalid_request_error")
            given = auth[7:].strip()
            if given != self.api_key:
                masked = given[:3] + "*" * max(0, len(given) - 7) + given[-4:] if len(given) > 8 else "*" * len(given)
                return self.body(401, "Incorrect API key provided: %s. You can find your API key at "
                                 "https://platform.openai.com/account/api-keys." % masked,
                                 "invalid_request_error", None, "invalid_api_key")
        try:
            req = json.loads(body)
        except ValueError:
            return self.bad("We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                            "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                            "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
                            "contact us through our help center at help.openai.com.)")
        if not isinstance(req, dict):
            return self.bad("Invalid type for request body: expected an object, but got %s instead." % type_name(req),
                            None, "invalid_type")
        for k in req:
            if k not in KNOWN_ARGS:
                return self.bad("Unrecognized request argument supplied: %s" % k)
        if not isinstance(req.get("model"), str) or not req["model"]:
            return self.bad("you must provide a model parameter")
        return (self.check_messages(req) or self.check_tools(req) or self.check_params(req))

    def check_messages(self, req):
        if "messages" not in req:
            return self.bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
        msgs = req["messages"]
        if not isinstance(msgs, list):
            return self.bad("Invalid type for 'messages': expected an array, but got %s instead." % type_name(msgs),
                            "messages", "invalid_type")
        if not msgs:
            return self.bad("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                            "empty array instead.", "messages", "empty_array")
        pending = None      # ids of the last assistant tool_calls not answered yet
        pending_at = None
        for i, m in enumerate(msgs):
            where = "messages[%d]" % i
            if not isinstance(m, dict):
                return self.bad("Invalid type for '%s': expected an object, but got %s instead." % (where, type_name(m)),
                                where, "invalid_type")
            role = m.get("role")
            if role not in ("system", "developer", "user", "assistant", "tool", "function"):
                if role is None:
                    return self.bad("Missing required parameter: '%s.role'." % where, where + ".role",
                                    "missing_required_parameter")
                return self.bad("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', "
                                "'function', 'tool', and 'developer'." % role, where + ".role", "invalid_value")
            if role != "tool" and pending:
                return self.bad("An assistant message with 'tool_calls' must be followed by tool messages responding "
                                "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                                "%s" % ", ".join(sorted(pending)), "messages.[%d].role" % pending_at)
            for k in m:
                allowed = {"role", "content", "name"} | ({"tool_calls", "refusal", "audio", "function_call"}
                                                        if role == "assistant" else set()) \
                    | ({"tool_call_id"} if role == "tool" else set())
                if k not in allowed:
                    return self.bad("Unrecognized request argument supplied: %s.%s" % (where, k))
            content = m.get("content")
            if role in ("system", "developer", "user"):
                if "content" not in m:
                    return self.bad("Missing required parameter: '%s.content'." % where, where + ".content",
                                    "missing_required_parameter")
                if not isinstance(content, (str, list)):
                    return self.bad("Invalid type for '%s.content': expected one of a string or array of objects, "
                                    "but got %s instead." % (where, type_name(content)), where + ".content",
                                    "invalid_type")
                pending = None
            elif role == "assistant":
                calls = m.get("tool_calls")
                if content is not None and not isinstance(content, (str, list)):
                    return self.bad("Invalid type for '%s.content': expected one of a string or array of objects, "
                                    "but got %s instead." % (where, type_name(content)), where + ".content",
                                    "invalid_type")
                if calls is not None:
                    if not isinstance(calls, list) or not calls:
                        return self.bad("Invalid '%s.tool_calls': empty array. Expected an array with minimum "
                                        "length 1, but got an empty array instead." % where, where + ".tool_calls",
                                        "empty_array")
                    ids = set()
                    for k, tc in enumerate(calls):
                        w = "%s.tool_calls[%d]" % (where, k)
                        bad = self.check_call(tc, w)
                        if bad:
                            return bad
                        ids.add(tc["id"])
                    pending, pending_at = ids, i
                elif content is None:
                    return self.bad("Invalid value for '%s.content': expected a string, got null." % where,
                                    where + ".content")
                else:
                    pending = None
            elif role == "tool":
                if not isinstance(m.get("tool_call_id"), str):
                    return self.bad("Missing required parameter: '%s.tool_call_id'." % where, where + ".tool_call_id",
                                    "missing_required_parameter")
                if not isinstance(content, (str, list)):
                    return self.bad("Invalid type for '%s.content': expected one of a string or array of objects, "
                                    "but got %s instead." % (where, type_name(content)), where + ".content",
                                    "invalid_type")
                asked = self.asked_ids(msgs, i)
                if asked is None:
                    return self.bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                                    "message with 'tool_calls'.", "messages.[%d].role" % i)
                if m["tool_call_id"] not in asked:
                    return self.bad("Invalid parameter: 'tool_call_id' of '%s' not found in 'tool_calls' of previous "
                                    "message." % m["tool_call_id"], "messages.[%d].tool_call_id" % i)
                if pending:
                    pending.discard(m["tool_call_id"])
        if pending:
            return self.bad("An assistant message with 'tool_calls' must be followed by tool messages responding to "
                            "each 'tool_call_id'. The following tool_call_ids did not have response messages: %s"
                            % ", ".join(sorted(pending)), "messages.[%d].role" % pending_at)
        return None

    @staticmethod
    def asked_ids(msgs, i):
        """The tool_call ids of the assistant message before the run of tool
        messages that holds message i, or None."""
        j = i - 1
        while j >= 0 and msgs[j].get("role") == "tool":
            j -= 1
        if j < 0 or msgs[j].get("role") != "assistant" or not msgs[j].get("tool_calls"):
            return None
        return {tc.get("id") for tc in msgs[j]["tool_calls"]}

    def check_call(self, tc, w):
        if not isinstance(tc, dict):
            return self.bad("Invalid type for '%s': expected an object, but got %s instead." % (w, type_name(tc)), w,
                            "invalid_type")
        for k in ("id", "type", "function"):
            if k not in tc:
                return self.bad("Missing required parameter: '%s.%s'." % (w, k), "%s.%s" % (w, k),
                                "missing_required_parameter")
        if not isinstance(tc["id"], str):
            return self.bad("Invalid type for '%s.id': expected a string, but got %s instead." % (w, type_name(tc["id"])),
                            w + ".id", "invalid_type")
        if tc["type"] != "function":
            return self.bad("Invalid value: '%s'. Supported values are: 'function'." % tc["type"], w + ".type",
                            "invalid_value")
        fn = tc["function"]
        if not isinstance(fn, dict):
            return self.bad("Invalid type for '%s.function': expected an object, but got %s instead."
                            % (w, type_name(fn)), w + ".function", "invalid_type")
        for k in ("name", "arguments"):
            if k not in fn:
                return self.bad("Missing required parameter: '%s.function.%s'." % (w, k), "%s.function.%s" % (w, k),
                                "missing_required_parameter")
            if not isinstance(fn[k], str):
                return self.bad("Invalid type for '%s.function.%s': expected a string, but got %s instead."
                                % (w, k, type_name(fn[k])), "%s.function.%s" % (w, k), "invalid_type")
        return None

    def check_tools(self, req):
        if "tools" not in req:
            return None
        tools = req["tools"]
        if not isinstance(tools, list):
            return self.bad("Invalid type for 'tools': expected an array, but got %s instead." % type_name(tools),
                            "tools", "invalid_type")
        if not tools:
            return self.bad("Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty "
                            "array instead.", "tools", "empty_array")
        for i, t in enumerate(tools):
            w = "tools[%d]" % i
            if not isinstance(t, dict):
                return self.bad("Invalid type for '%s': expected an object, but got %s instead." % (w, type_name(t)), w,
                                "invalid_type")
            if t.get("type") != "function":
                return self.bad("Missing required parameter: '%s.type'." % w if "type" not in t else
                                "Invalid value: '%s'. Supported values are: 'function' and 'custom'." % t["type"],
                                w + ".type", "invalid_value")
            fn = t.get("function")
            if not isinstance(fn, dict):
                return self.bad("Missing required parameter: '%s.function'." % w, w + ".function",
                                "missing_required_parameter")
            for k in fn:
                if k not in ("name", "description", "parameters", "strict"):
                    return self.bad("Unrecognized request argument supplied: %s.function.%s" % (w, k))
            name = fn.get("name")
            if not isinstance(name, str):
                return self.bad("Missing required parameter: '%s.function.name'." % w, w + ".function.name",
                                "missing_required_parameter")
            if not TOOL_NAME.match(name):
                return self.bad("Invalid '%s.function.name': string does not match pattern. Expected a string that "
                                "matches the pattern '^[a-zA-Z0-9_-]+$'." % w, w + ".function.name", "invalid_value")
            if "description" in fn and not isinstance(fn["description"], str):
                return self.bad("Invalid type for '%s.function.description': expected a string, but got %s instead."
                                % (w, type_name(fn["description"])), w + ".function.description", "invalid_type")
            if "parameters" in fn and not isinstance(fn["parameters"], dict):
                return self.bad("Invalid type for '%s.function.parameters': expected an object, but got %s instead."
                                % (w, type_name(fn["parameters"])), w + ".function.parameters", "invalid_type")
        return None

    def check_params(self, req):
        for k in ("max_tokens", "max_completion_tokens"):
            if k in req and req[k] is not None:
                v = req[k]
                if not isinstance(v, int) or isinstance(v, bool):
                    return self.bad("Invalid type for '%s': expected an integer, but got %s instead."
                                    % (k, type_name(v)), k, "invalid_type")
                if v < 1:
                    return self.bad("Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d "
                                    "instead." % (k, v), k, "integer_below_min_value")
        if "max_tokens" in req and REASONING.match(req["model"]):
            return self.bad("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                            "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
        if "temperature" in req and req["temperature"] is not None:
            t = req["temperature"]
            if not isinstance(t, (int, float)) or isinstance(t, bool):
                return self.bad("Invalid type for 'temperature': expected a decimal, but got %s instead."
                                % type_name(t), "temperature", "invalid_type")
            if t < 0 or t > 2:
                return self.bad("Invalid 'temperature': decimal %s. Expected a value %s, but got %s instead."
                                % ("below minimum value" if t < 0 else "above maximum value",
                                   ">= 0" if t < 0 else "<= 2", t), "temperature",
                                "decimal_below_min_value" if t < 0 else "decimal_above_max_value")
        rf = req.get("response_format")
        if rf is not None:
            if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema"):
                return self.bad("Invalid value: '%s'. Supported values are: 'text', 'json_object', and "
                                "'json_schema'." % (rf.get("type") if isinstance(rf, dict) else rf),
                                "response_format.type", "invalid_value")
            if rf["type"] == "json_object" and not any("json" in text_of(m.get("content")).lower()
                                                       for m in req["messages"]):
                return self.bad("'messages' must contain the word 'json' in some form, to use 'response_format' of "
                                "type 'json_object'.", "messages")
        return None

    # ------------------------------------------------------------ answers --
    def tail(self, request):
        """The messages after the last assistant message."""
        msgs = request.get("messages", [])
        j = len(msgs) - 1
        while j >= 0 and msgs[j].get("role") != "assistant":
            j -= 1
        return msgs[j + 1:]

    def last_user_texts(self, request):
        """Every user text of the conversation, latest last (a narrate turn
        after a repair request finds the findings in an earlier one)."""
        return [text_of(m.get("content")) for m in request.get("messages", []) if m.get("role") == "user"]

    def last_tool_results(self, request):
        return [text_of(m.get("content")) for m in self.tail(request) if m.get("role") == "tool"]

    def answer(self, turn, request, index):
        message = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
        finish = "stop"
        if turn.get("tool_calls"):
            calls = []
            for tc in turn["tool_calls"]:
                args = tc["arguments"] if "arguments" in tc else json.dumps(tc.get("input", {}), separators=(",", ":"))
                call = {"id": rand_id("call_", 24), "type": "function",
                        "function": {"name": tc["name"], "arguments": args}}
                if tc.get("no_id"):
                    del call["id"]
                calls.append(call)
            message["tool_calls"] = calls
            if "text" in turn:
                message["content"] = turn["text"]
            finish = "tool_calls"
            text = json.dumps(calls)
        elif "refusal" in turn:
            message["refusal"] = turn["refusal"]
            text = turn["refusal"]
        else:
            text = self.reply_text(turn, request)
            message["content"] = text
        stop = turn.get("stop")
        if stop == "max_tokens":
            finish = "length"
        elif stop:
            finish = stop
        i, o = self.usage(turn, json.dumps(request), text)
        doc = {
            "id": rand_id("chatcmpl-", 29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": SNAPSHOTS.get(request["model"], request["model"]),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default",
            "system_fingerprint": "fp_" + "".join(random.choice("0123456789abcdef") for _ in range(10)),
        }
        return (200, [("Content-Type", "application/json"), ("x-request-id", rand_id("req_", 32)),
                      ("openai-processing-ms", "42")], json.dumps(doc).encode())


def main():
    ap = argparse.ArgumentParser(description="fake OpenAI Chat Completions API (loopback)")
    ap.add_argument("--script", default=os.environ.get("OPENAI_FAKE_SCRIPT"))
    ap.add_argument("--record", default=os.environ.get("OPENAI_FAKE_RECORD"))
    ap.add_argument("--api-key", default=os.environ.get("OPENAI_FAKE_KEY"))
    a = ap.parse_args()
    if not a.script or not a.record:
        ap.error("--script and --record are required")
    fake_model.serve(OpenAI(a.api_key or None), a.script, a.record)


if __name__ == "__main__":
    main()
