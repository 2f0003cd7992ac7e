#!/usr/bin/python3
"""A fake Amazon Bedrock Runtime (the Converse operation) for tests/model_bedrock.sh,
loopback only, speaking the script format of tests/fake_model.py.  Written from AWS's
public documentation:

  Bedrock API Reference, Converse (API_runtime_Converse): POST /model/{modelId}/converse,
      modelId URL-encoded in the path; body {"messages": [{"role": "user"|"assistant",
      "content": [ContentBlock]}], "system": [{"text"}], "inferenceConfig": {"maxTokens",
      "temperature", "topP", "stopSequences"}, "toolConfig": {"tools": [{"toolSpec":
      {"name", "description", "inputSchema": {"json": {...}}}}], "toolChoice"}}; answer
      {"output": {"message": {"role": "assistant", "content": [...]}}, "stopReason":
      end_turn | tool_use | max_tokens | stop_sequence | guardrail_intervened |
      content_filtered, "usage": {"inputTokens", "outputTokens", "totalTokens"},
      "metrics": {"latencyMs"}}.  Errors (section "Errors"): AccessDeniedException 403,
      InternalServerException 500, ModelErrorException 424, ModelNotReadyException 429,
      ModelTimeoutException 408, ResourceNotFoundException 404, ServiceUnavailableException
      503, ThrottlingException 429, ValidationException 400.
  ContentBlock / ToolUseBlock / ToolResultBlock: toolUse {"toolUseId", "name", "input"},
      toolResult {"toolUseId", "content": [{"text"} | {"json"}], "status": success|error};
      toolUseId and tool names match [a-zA-Z0-9_-]+, 1..64 characters.
  Common Errors (all AWS APIs): IncompleteSignature 400, MissingAuthenticationToken 403,
      InvalidSignatureException / UnrecognizedClientException 403 (the wording below is what
      AWS answers), RequestExpired / "Signature expired" when X-Amz-Date is more than 5
      minutes away from the server's clock.
  Error body of a restJson1 service such as bedrock-runtime: {"message": "..."}; the type is
      in the x-amzn-ErrorType header ("ThrottlingException:http://internal.amazon.com/coral/
      com.amazon.bedrock/"), with x-amzn-RequestId.  Bedrock sends no Retry-After.
  Tool use (Bedrock User Guide, "Call a tool with the Converse API"): toolUseId values
      look like "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"; a user message answering tool use must
      hold a toolResult for every toolUse of the previous assistant message and none other,
      and toolConfig must be present whenever the conversation holds toolUse / toolResult.

Every request's Signature Version 4 is checked with botocore (Debian's python3-botocore):
the request as received (method, http://Host + the raw path, only the headers the
Authorization header lists in SignedHeaders, the body) goes through
botocore.auth.SigV4Auth's canonical_request / string_to_sign / signature - the code path
add_auth uses - with the timestamp taken from X-Amz-Date.  A request that fails any check
is answered AWS's 403 (or 400) and does not take a turn of the script.

Options: --script FILE --record FILE --access-key K --secret-key S [--session-token T]
[--region R] (default us-east-1).  A script turn may carry "error_type" to choose the
exception name of an error turn (e.g. ModelNotReadyException); otherwise the status picks it.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import sys
import uuid
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_model  # noqa: E402

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"
ROUTE = re.compile(r"^/model/([^/?#]+)/converse$")
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
STATUS_TYPES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
                408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
                500: "InternalServerException", 503: "ServiceUnavailableException"}
STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "guardrail_intervened", "content_filtered")
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.")


def aws_error(status, etype, message, ns=BEDROCK_NS):
    return (status, [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4())),
                     ("x-amzn-ErrorType", etype + ":" + ns)],
            json.dumps({"message": message}).encode())


def tool_use_id():
    return "tooluse_" + base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=").replace("-", "A")[:22]


class Bedrock(fake_model.Provider):
    def __init__(self, access_key, secret_key, session_token, region):
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        self.region = region

    # ------------------------------------------------------------ routing --
    def route(self, method, path):
        return method == "POST" and ROUTE.match(path.split("?")[0]) is not None

    # ------------------------------------------------------------- checks --
    def check(self, handler, body):
        bad = self.check_signature(handler, body)
        if bad is not None:
            return bad
        try:
            request = json.loads(body)
        except ValueError:
            return aws_error(400, "SerializationException", "Unexpected character in the request body: not JSON")
        return self.check_body(request)

    def check_signature(self, handler, body):
        auth = handler.headers.get("Authorization")
        if not auth:
            return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token", CORAL_NS)
        m = re.match(r"^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$", auth)
        if not m:
            return aws_error(400, "IncompleteSignatureException",
                             "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                             "parameters. Authorization=" + auth.split(" ")[0], CORAL_NS)
        credential, signed, signature = m.groups()
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            return aws_error(400, "IncompleteSignatureException",
                             "Credential must have exactly 5 slash-delimited elements, e.g. "
                             "keyid/date/region/service/term, got '%s'" % "/".join(["<key>"] + parts[1:]), CORAL_NS)
        key, day, region, service = parts[:4]
        if key != self.access_key:
            return aws_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.",
                             CORAL_NS)
        token = handler.headers.get("X-Amz-Security-Token")
        if (self.session_token or token) and token != self.session_token:
            return aws_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.",
                             CORAL_NS)
        signed_names = signed.split(";")
        if self.session_token and "x-amz-security-token" not in signed_names:
            return aws_error(403, "InvalidSignatureException", BAD_SIGNATURE, CORAL_NS)
        if "host" not in signed_names or "x-amz-date" not in signed_names:
            return aws_error(403, "InvalidSignatureException",
                             "'Host' and 'X-Amz-Date' must be signed (SignedHeaders=%s)" % signed, CORAL_NS)
        if region != self.region:
            return aws_error(403, "InvalidSignatureException",
                             "Credential should be scoped to a valid region, not '%s'. " % region, CORAL_NS)
        if service != "bedrock":
            return aws_error(403, "InvalidSignatureException",
                             "Credential should be scoped to correct service: 'bedrock'. ", CORAL_NS)
        amz_date = handler.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return aws_error(400, "IncompleteSignatureException",
                             "Date must be in ISO-8601 'basic format'. Got '%s'." % amz_date, CORAL_NS)
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - when).total_seconds()) > 300:
            fmt = "%Y%m%dT%H%M%SZ"
            return aws_error(403, "InvalidSignatureException",
                             "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                             % (amz_date, (now - datetime.timedelta(minutes=5)).strftime(fmt), now.strftime(fmt))
                             if when < now else
                             "Signature not yet current: %s is still later than %s (%s + 5 min.)"
                             % (amz_date, (now + datetime.timedelta(minutes=5)).strftime(fmt), now.strftime(fmt)),
                             CORAL_NS)
        if day != amz_date[:8]:
            return aws_error(403, "InvalidSignatureException",
                             "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                             "HTTP: '%s' != '%s', from '%s'." % (day, amz_date[:8], amz_date), CORAL_NS)

        # Rebuild the request as it arrived and let botocore sign it.
        headers = {}
        for name in signed_names:
            values = handler.headers.get_all(name)
            if values is None:
                return aws_error(403, "InvalidSignatureException", BAD_SIGNATURE, CORAL_NS)
            headers[name] = ",".join(values)
        request = AWSRequest(method=handler.command, url="http://" + handler.headers.get("Host", "") + handler.path,
                             headers=headers, data=body)
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key, self.session_token), "bedrock", self.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != signature:
            shown = re.sub(r"(?m)^(x-amz-security-token:).*$", r"\1<token>", canonical)
            sys.stderr.write("fake_bedrock: signature mismatch; canonical request:\n%s\n" % shown)
            return aws_error(403, "InvalidSignatureException", BAD_SIGNATURE, CORAL_NS)
        return None

    def check_body(self, req):
        """The Converse request's documented constraints, as ValidationException."""
        def invalid(msg):
            return aws_error(400, "ValidationException", msg)

        if not isinstance(req, dict):
            return invalid("The request body must be a JSON object.")
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return invalid("A conversation must start with a user message. Try again with a conversation that "
                           "starts with a user message.")
        system = req.get("system")
        if system is not None:
            if not isinstance(system, list) or not all(isinstance(b, dict) and isinstance(b.get("text"), str)
                                                       and b["text"].strip() for b in system):
                return invalid("The text field in the SystemContentBlock object is blank. Add text to the "
                               "text field, and try again.")
        ic = req.get("inferenceConfig")
        if ic is not None:
            if not isinstance(ic, dict):
                return invalid("inferenceConfig must be an object")
            mt = ic.get("maxTokens")
            if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or mt < 1):
                return invalid("1 validation error detected: Value '%s' at 'inferenceConfig.maxTokens' failed to "
                               "satisfy constraint: Member must have value greater than or equal to 1" % mt)
            t = ic.get("temperature")
            if t is not None and (not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1):
                return invalid("1 validation error detected: Value '%s' at 'inferenceConfig.temperature' failed to "
                               "satisfy constraint: Member must have value less than or equal to 1" % t)
        tc = req.get("toolConfig")
        tool_names = set()
        if tc is not None:
            tools = tc.get("tools") if isinstance(tc, dict) else None
            if not isinstance(tools, list) or not tools:
                return invalid("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy "
                               "constraint: Member must have length greater than or equal to 1")
            for i, t in enumerate(tools, 1):
                spec = t.get("toolSpec") if isinstance(t, dict) else None
                where = "toolConfig.tools.%d.member.toolSpec" % i
                if not isinstance(spec, dict):
                    return invalid("1 validation error detected: Value null at '%s' failed to satisfy constraint: "
                                   "Member must not be null" % where)
                name = spec.get("name")
                if not isinstance(name, str) or not NAME_RE.match(name):
                    return invalid("1 validation error detected: Value '%s' at '%s.name' failed to satisfy "
                                   "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"
                                   % (name, where))
                if "description" in spec and (not isinstance(spec["description"], str) or not spec["description"]):
                    return invalid("1 validation error detected: Value '' at '%s.description' failed to satisfy "
                                   "constraint: Member must have length greater than or equal to 1" % where)
                schema = spec.get("inputSchema")
                if not isinstance(schema, dict) or not isinstance(schema.get("json"), dict):
                    return invalid("The value at %s.inputSchema.json is not a JSON object: the input schema must be "
                                   "a JSON Schema object" % where)
                tool_names.add(name)
        roles = ("user", "assistant")
        uses_tools = False
        prev_tool_ids = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in roles:
                return invalid("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to "
                               "satisfy constraint: Member must satisfy enum value set: [user, assistant]"
                               % (m.get("role") if isinstance(m, dict) else None, i + 1))
            if i == 0 and m["role"] != "user":
                return invalid("A conversation must start with a user message. Try again with a conversation that "
                               "starts with a user message.")
            if i > 0 and m["role"] == messages[i - 1].get("role"):
                return invalid("A conversation must alternate between user and assistant roles. Make sure the "
                               "conversation alternates between user and assistant roles and try again.")
            content = m.get("content")
            if not isinstance(content, list) or not content:
                return invalid("The content field in the Message object at messages.%d is empty. Add a ContentBlock "
                               "object to the content field and try again." % i)
            tool_ids, result_ids = [], []
            for j, b in enumerate(content):
                if not isinstance(b, dict) or len(b) != 1:
                    return invalid("The ContentBlock at messages.%d.content.%d must hold exactly one member" % (i, j))
                kind, val = next(iter(b.items()))
                if kind == "text":
                    if not isinstance(val, str) or not val.strip():
                        return invalid("The text field in the ContentBlock object at messages.%d.content.%d is "
                                       "blank. Add text to the text field, and try again." % (i, j))
                elif kind == "toolUse":
                    uses_tools = True
                    if m["role"] != "assistant":
                        return invalid("messages.%d.content.%d: toolUse blocks are only allowed in assistant "
                                       "messages" % (i, j))
                    if not isinstance(val, dict) or not isinstance(val.get("toolUseId"), str) \
                            or not NAME_RE.match(val["toolUseId"]) or not isinstance(val.get("name"), str) \
                            or "input" not in val:
                        return invalid("The toolUse block at messages.%d.content.%d needs toolUseId "
                                       "([a-zA-Z0-9_-]+), name and input" % (i, j))
                    tool_ids.append(val["toolUseId"])
                elif kind == "toolResult":
                    uses_tools = True
                    if m["role"] != "user":
                        return invalid("messages.%d.content.%d: toolResult blocks are only allowed in user "
                                       "messages" % (i, j))
                    if not isinstance(val, dict) or not isinstance(val.get("toolUseId"), str) \
                            or not isinstance(val.get("content"), list):
                        return invalid("The toolResult block at messages.%d.content.%d needs toolUseId and "
                                       "content" % (i, j))
                    if val.get("status") not in (None, "success", "error"):
                        return invalid("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d."
                                       "member.toolResult.status' failed to satisfy constraint: Member must satisfy "
                                       "enum value set: [success, error]" % (val.get("status"), i + 1, j + 1))
                    for c in val["content"]:
                        if not isinstance(c, dict) or not (isinstance(c.get("text"), str) or "json" in c):
                            return invalid("The toolResult content at messages.%d.content.%d must be text or json"
                                           % (i, j))
                    result_ids.append(val["toolUseId"])
                else:
                    return aws_error(400, "SerializationException", "Unexpected content block type '%s'" % kind)
            if m["role"] == "user" and (prev_tool_ids or result_ids):
                unknown = [r for r in result_ids if r not in prev_tool_ids]
                if unknown:
                    return invalid("messages.%d.content: the toolResult blocks refer to toolUseId(s) %s that the "
                                   "toolUse blocks of the previous assistant message (messages.%d) do not contain."
                                   % (i, ", ".join(unknown), i - 1))
                missing = [t for t in prev_tool_ids if t not in result_ids]
                if missing:
                    return invalid("Expected toolResult blocks at messages.%d.content for the following Ids: %s"
                                   % (i, ", ".join(missing)))
            prev_tool_ids = tool_ids if m["role"] == "assistant" else []
        if uses_tools and tc is None:
            return invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
        return None

    # ------------------------------------------------------------ answers --
    def answer(self, turn, request, index):
        content = []
        tool_calls = turn.get("tool_calls") or []
        text = turn.get("text", "") if tool_calls else self.reply_text(turn, request)
        if text:
            content.append({"text": text})
        for call in tool_calls:
            content.append({"toolUse": {"toolUseId": call.get("id") or tool_use_id(), "name": call["name"],
                                        "input": call.get("input", {})}})
        stop = turn.get("stop") or ("tool_use" if tool_calls else "end_turn")
        if stop not in STOP_REASONS:
            stop = "end_turn"
        body_text = json.dumps(request)
        n_in, n_out = self.usage(turn, body_text, json.dumps(content))
        doc = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
               "usage": {"inputTokens": n_in, "outputTokens": n_out, "totalTokens": n_in + n_out},
               "metrics": {"latencyMs": 42 + index}}
        return (200, [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))],
                json.dumps(doc).encode())

    def error(self, status, message, turn):
        etype = turn.get("error_type") or STATUS_TYPES.get(status)
        if etype is None:
            etype = "InternalServerException" if status >= 500 else "ValidationException"
        if status == 429 and "error" not in turn:
            message = "Too many requests, please wait before trying again."
        if status == 404 and turn == {}:
            etype = "UnknownOperationException"
        return aws_error(status, etype, message)

    # ------------------------------------------------------- request views --
    @staticmethod
    def _last_user(request):
        for m in reversed(request.get("messages") or []):
            if m.get("role") == "user":
                return m.get("content") or []
        return []

    def last_user_texts(self, request):
        # Every user text, the latest last: fake_model's narrate turn takes the
        # last ```json block among them, which after a repair request (a user
        # message of its own) is in an earlier user message.
        return [b["text"] for m in request.get("messages") or [] if m.get("role") == "user"
                for b in m.get("content") or [] if isinstance(b, dict) and "text" in b]

    def last_tool_results(self, request):
        out = []
        for b in self._last_user(request):
            r = b.get("toolResult")
            if not r:
                continue
            for c in r.get("content") or []:
                out.append(c["text"] if "text" in c else json.dumps(c.get("json")))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--script", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--session-token")
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    fake_model.serve(Bedrock(a.access_key, a.secret_key, a.session_token, a.region), a.script, a.record)


if __name__ == "__main__":
    main()
