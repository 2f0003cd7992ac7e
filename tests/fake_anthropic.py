#!/usr/bin/python3
"""A fake Anthropic Messages API for tests/model_anthropic.sh and the data agent
tests, loopback only.  It speaks the script format of tests/fake_model.py (read
its docstring); this file adds only Anthropic's wire format, written from
Anthropic's public documentation:

  https://platform.claude.com/docs/en/api/messages (Create a Message)
      POST /v1/messages with the headers x-api-key, anthropic-version and
      content-type: application/json.  Body: model, max_tokens and messages are
      required; system (a string), tools [{name, description, input_schema}],
      temperature (0.0 .. 1.0) optional.  A message is {role: "user" |
      "assistant", content: a string or an array of blocks}: {type: "text",
      text}, {type: "tool_use", id, name, input}, {type: "tool_result",
      tool_use_id, content, is_error}.  The answer: {id: "msg_...", type:
      "message", role: "assistant", model, content: [text | tool_use blocks],
      stop_reason: "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" |
      "pause_turn" | "refusal", stop_sequence, usage: {input_tokens,
      output_tokens}}.
  https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
      a tool_use block has a unique id ("toolu_01" and 22 base-62 characters);
      each tool_result must answer a tool_use of the previous (assistant)
      message, and each tool_use must be answered in the next (user) message.
      The API's 400s for both are quoted below as real clients logged them
      (github.com/anthropics/claude-code issues 13460 and 8210).
  https://platform.claude.com/docs/en/api/errors
      {"type": "error", "error": {"type", "message"}, "request_id"} with 400
      invalid_request_error (also other 4xx), 401 authentication_error, 403
      permission_error, 404 not_found_error, 413 request_too_large, 429
      rate_limit_error (with a retry-after header in seconds), 500 api_error,
      529 overloaded_error; every answer carries a request-id header.
      A wrong key is 401 authentication_error "invalid x-api-key"; a missing
      max_tokens is 400 invalid_request_error "max_tokens: Field required".

Besides fake_model's turns, a turn {"status": N, "error_body": "..."} answers
status N with exactly that body (text/html), as a proxy in front of the API
might, for the plugin's handling of an error that is not Anthropic's.

Checks made before a turn is taken (a request they refuse does not consume a
turn; it is still recorded): the path, x-api-key (401), anthropic-version and
content-type (400), the JSON body, the required fields and their types, the
tools' shape (input_schema must be a JSON object, not a string), the blocks'
shape, and the tool_use / tool_result pairing (400 with the API's wording).

Usage: fake_anthropic.py [--script FILE] [--record FILE] [--api-key KEY]
       (defaults from the environment: FAKE_MODEL_SCRIPT, FAKE_MODEL_RECORD,
       ANTHROPIC_FAKE_KEY), so that tests/tap.sh's start_fake can start it with
       environment settings alone.  Prints "PORT n"; exits when stdin closes.
"""
import argparse
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_model  # noqa: E402

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def anthropic_id(prefix, *seed):
    """A deterministic id in Anthropic's style: prefix, "01", 22 base-62 characters."""
    h = int.from_bytes(hashlib.sha256(repr(seed).encode()).digest(), "big")
    out = []
    for _ in range(22):
        h, r = divmod(h, 62)
        out.append(BASE62[r])
    return prefix + "01" + "".join(out)


class Invalid(Exception):
    pass


class Anthropic(fake_model.Provider):
    def __init__(self, api_key):
        self.api_key = api_key
        self.requests = 0

    def route(self, method, path):
        return method == "POST" and path.split("?")[0] == "/v1/messages"

    def request_id(self):
        self.requests += 1
        return anthropic_id("req_", "request", self.requests)

    def error(self, status, message, turn):
        etype = ERROR_TYPES.get(status)
        if etype is None:
            etype = "api_error" if status >= 500 else "invalid_request_error"
        rid = self.request_id()
        body = {"type": "error", "error": {"type": etype, "message": message}, "request_id": rid}
        headers = [("Content-Type", "application/json"), ("request-id", rid)]
        if turn and "error_body" in turn:
            # what a proxy in front of the API may answer instead (this fake only)
            return status, [("Content-Type", "text/html")], turn["error_body"].encode()
        if turn and "retry_after" in turn:
            headers.append(("retry-after", str(turn["retry_after"])))
        elif status == 429:
            headers.append(("retry-after", "1"))
        return status, headers, json.dumps(body).encode()

    # ------------------------------------------------------------ checks
    def check(self, handler, body):
        key = handler.headers.get("x-api-key")
        if key is None:
            return self.error(401, "x-api-key header is required", {})
        if key != self.api_key:
            return self.error(401, "invalid x-api-key", {})
        if not handler.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required", {})
        ctype = handler.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            return self.error(400, "content-type: must be application/json", {})
        try:
            req = json.loads(body)
        except ValueError as e:
            return self.error(400, "There was an issue with the format or content of your request: %s" % e, {})
        try:
            self.validate(req)
        except Invalid as e:
            return self.error(400, str(e), {})
        return None

    def validate(self, req):
        if not isinstance(req, dict):
            raise Invalid("body: Input should be a valid dictionary")
        for field in ("model", "max_tokens", "messages"):
            if field not in req:
                raise Invalid("%s: Field required" % field)
        if not isinstance(req["model"], str) or not req["model"]:
            raise Invalid("model: Input should be a valid string")
        mt = req["max_tokens"]
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise Invalid("max_tokens: Input should be a valid integer greater than or equal to 1")
        if "system" in req and not isinstance(req["system"], (str, list)):
            raise Invalid("system: Input should be a valid string")
        if "temperature" in req:
            t = req["temperature"]
            if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1:
                raise Invalid("temperature: Input should be a number between 0 and 1")
        tools = req.get("tools", [])
        if not isinstance(tools, list):
            raise Invalid("tools: Input should be a valid list")
        for i, t in enumerate(tools):
            if not isinstance(t, dict):
                raise Invalid("tools.%d: Input should be a valid dictionary" % i)
            if not isinstance(t.get("name"), str) or not TOOL_NAME.match(t["name"]):
                raise Invalid("tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'" % i)
            if "description" in t and not isinstance(t["description"], str):
                raise Invalid("tools.%d.description: Input should be a valid string" % i)
            if "input_schema" not in t:
                raise Invalid("tools.%d.input_schema: Field required" % i)
            if not isinstance(t["input_schema"], dict):
                raise Invalid("tools.%d.input_schema: Input should be a valid dictionary" % i)
            if t["input_schema"].get("type") != "object":
                raise Invalid("tools.%d.input_schema.type: Input should be 'object'" % i)
        msgs = req["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise Invalid("messages: at least one message is required")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
                raise Invalid("messages.%d.role: Input should be 'user' or 'assistant'" % i)
            content = m.get("content")
            if isinstance(content, str):
                continue
            if not isinstance(content, list):
                raise Invalid("messages.%d.content: Input should be a valid list" % i)
            for j, b in enumerate(content):
                self.validate_block(i, j, m["role"], b)
        if msgs[0]["role"] != "user":
            raise Invalid("messages: first message must use the \"user\" role")
        # tool_use / tool_result pairing: results naming an unknown call first,
        # then calls left unanswered
        for i, m in enumerate(msgs):
            results = [(j, b) for j, b in enumerate(blocks_of(m)) if b.get("type") == "tool_result"]
            if results:
                prev = msgs[i - 1] if i > 0 else {"role": "user", "content": []}
                uses = {b["id"] for b in blocks_of(prev) if b.get("type") == "tool_use"} \
                    if prev.get("role") == "assistant" else set()
                for j, b in results:
                    if b["tool_use_id"] not in uses:
                        raise Invalid("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` "
                                      "blocks: %s. Each `tool_result` block must have a corresponding `tool_use` "
                                      "block in the previous message." % (i, j, b["tool_use_id"]))
        for i, m in enumerate(msgs):
            uses = [b["id"] for b in blocks_of(m) if b.get("type") == "tool_use"]
            if uses and i + 1 < len(msgs):
                answered = {b["tool_use_id"] for b in blocks_of(msgs[i + 1]) if b.get("type") == "tool_result"}
                missing = [u for u in uses if u not in answered]
                if missing:
                    raise Invalid("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately "
                                  "after: %s. Each `tool_use` block must have a corresponding `tool_result` block "
                                  "in the next message." % (i, ", ".join(missing)))

    @staticmethod
    def validate_block(i, j, role, b):
        where = "messages.%d.content.%d" % (i, j)
        if not isinstance(b, dict) or "type" not in b:
            raise Invalid("%s: Input should be a valid content block" % where)
        t = b["type"]
        if t == "text":
            if not isinstance(b.get("text"), str):
                raise Invalid("%s.text: Field required" % where)
        elif t == "tool_use":
            if role != "assistant":
                raise Invalid("%s: tool_use blocks are only allowed in assistant messages" % where)
            for f in ("id", "name"):
                if not isinstance(b.get(f), str) or not b[f]:
                    raise Invalid("%s.%s: Field required" % (where, f))
            if not isinstance(b.get("input"), dict):
                raise Invalid("%s.input: Input should be a valid dictionary" % where)
        elif t == "tool_result":
            if role != "user":
                raise Invalid("%s: tool_result blocks are only allowed in user messages" % where)
            if not isinstance(b.get("tool_use_id"), str) or not b["tool_use_id"]:
                raise Invalid("%s.tool_use_id: Field required" % where)
            c = b.get("content", "")
            if not isinstance(c, (str, list)):
                raise Invalid("%s.content: Input should be a valid string or list of content blocks" % where)
            if "is_error" in b and not isinstance(b["is_error"], bool):
                raise Invalid("%s.is_error: Input should be a valid boolean" % where)
        else:
            raise Invalid("%s.type: Input tag '%s' found using 'type' does not match any of the expected tags"
                          % (where, t))

    # ------------------------------------------------------------ answers
    def answer(self, turn, request, index):
        content = []
        text = ""
        if turn.get("tool_calls"):
            if turn.get("text"):
                text = turn["text"]
                content.append({"type": "text", "text": text})
            for k, call in enumerate(turn["tool_calls"]):
                content.append({"type": "tool_use", "id": anthropic_id("toolu_", "tool", index, k),
                                "name": call["name"], "input": call.get("input", {})})
            stop = "tool_use"
        else:
            text = self.reply_text(turn, request)
            if text:
                content.append({"type": "text", "text": text})
            stop = turn.get("stop", "end_turn")
        tokens_in, tokens_out = self.usage(turn, json.dumps(request), text + json.dumps(content))
        rid = self.request_id()
        body = {"id": anthropic_id("msg_", "message", index), "type": "message", "role": "assistant",
                "model": turn.get("model", request.get("model")), "content": content, "stop_reason": stop,
                "stop_sequence": None, "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}}
        return 200, [("Content-Type", "application/json"), ("request-id", rid)], json.dumps(body).encode()

    # ------------------------------------------------------------ readers
    @staticmethod
    def last_user(request):
        for m in reversed(request.get("messages", [])):
            if m.get("role") == "user":
                return m
        return {"content": []}

    def last_user_texts(self, request):
        # Every user text, the latest last: fake_model's narrate turn takes the
        # last ```json block among them, which after a repair request (a user
        # message of its own) is in an earlier user message.
        return [b["text"] for m in request.get("messages", []) if m.get("role") == "user"
                for b in blocks_of(m) if b.get("type") == "text"]

    def last_tool_results(self, request):
        out = []
        for b in blocks_of(self.last_user(request)):
            if b.get("type") != "tool_result":
                continue
            c = b.get("content", "")
            if isinstance(c, list):
                c = "\n".join(x.get("text", "") for x in c if isinstance(x, dict) and x.get("type") == "text")
            out.append(c)
        return out


def blocks_of(message):
    c = message.get("content", [])
    if isinstance(c, str):
        return [{"type": "text", "text": c}]
    return [b for b in c if isinstance(b, dict)]


def main():
    ap = argparse.ArgumentParser(description="fake Anthropic Messages API (loopback)")
    ap.add_argument("--script", default=os.environ.get("FAKE_MODEL_SCRIPT"))
    ap.add_argument("--record", default=os.environ.get("FAKE_MODEL_RECORD"))
    ap.add_argument("--api-key", default=os.environ.get("ANTHROPIC_FAKE_KEY", "sk-ant-fake-key"))
    args = ap.parse_args()
    if not args.script or not args.record:
        ap.error("--script and --record are required (or FAKE_MODEL_SCRIPT / FAKE_MODEL_RECORD)")
    fake_model.serve(Anthropic(args.api_key), args.script, args.record)


if __name__ == "__main__":
    main()
