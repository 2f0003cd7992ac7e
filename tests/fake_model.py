"""The scripted part shared by the fake model provider servers
(fake_anthropic.py, fake_openai.py, fake_bedrock.py): loopback HTTP, the
script of turns, the request record.  Each fake adds only its provider's wire
format (from the provider's public API documentation) as a Provider subclass.

A script is a JSON file {"turns": [TURN, ...], "repeat_last": false}.  Each
request to the model endpoint takes the next turn; once the list is used up
the last turn is repeated when repeat_last is true, otherwise the request is
answered with the provider's 400 error "fake: script exhausted".  TURN is one of

  {"text": "..."}                          a final answer
  {"tool_calls": [{"name": N, "input": {...}}, ...], "text": "..."}
                                           the model calls tools (text optional)
  {"narrate": true}                        the narrative answer, built from the
                                           last ```json block of the user messages
                                           (a repair request is a later user
                                           message without one)
  {"echo_tool_results": true}              a final answer quoting every tool
                                           result of the last user message
  {"status": 429, "retry_after": 1}        the provider's throttling error
  {"status": 500|503|529|400|..., "error": "message"}   the provider's error
  {"raw": "..."}                           HTTP 200 with exactly this body
  {"stop": "max_tokens", "text": "..."}    an answer cut at max_tokens

and may carry "usage": {"input": N, "output": M} (default: a quarter of the
request and answer lengths).  Every request is appended to the record file as
one JSON line {"method", "path", "headers", "body", "turn"}; GET /requests on
the server returns the number recorded.  Prints "PORT n"; exits when stdin
closes.

For the parallelism tests (tests/parallel.sh): FAKE_MODEL_LATENCY=SECONDS
delays every model answer, and the server counts the requests it is serving
at once; GET /peak returns {"peak": N, "in_flight": N} (the most seen at
once, and now); POST /peak/reset sets the peak back to 0.
"""
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    def __init__(self, path):
        with open(path) as f:
            doc = json.load(f)
        self.turns = doc["turns"]
        self.repeat_last = bool(doc.get("repeat_last", False))
        self.next = 0
        self.lock = threading.Lock()

    def take(self):
        """The next turn and its index, or (None, index) when exhausted."""
        with self.lock:
            i = self.next
            self.next += 1
        if i < len(self.turns):
            return self.turns[i], i
        if self.repeat_last and self.turns:
            return self.turns[-1], i
        return None, i


def narratives(findings_text):
    """The narrative answer for the findings JSON block the core sent."""
    doc = json.loads(findings_text)
    out = []
    for f in doc.get("findings", []):
        name = f.get("account_name") or f.get("account_id") or "the account"
        out.append({
            "fingerprint": f["fingerprint"],
            "summary": "%s needs attention: %s" % (name, f.get("title", "")),
            "next_steps": ["Schedule a call with %s this week" % name,
                           "Review the signals with the account owner"],
        })
    return json.dumps({"narratives": out})


def last_json_block(text):
    """The content of the last ```json ... ``` block of text, or None."""
    start = text.rfind("```json")
    if start < 0:
        return None
    start = text.index("\n", start) + 1
    end = text.find("```", start)
    return text[start:end if end >= 0 else len(text)]


class Provider:
    """Override: route(path) -> bool, check(handler, body) -> error reply or
    None, answer(turn, request) -> (status, headers, body bytes), error(status,
    message, turn) -> (status, headers, body bytes), and the request readers
    last_user_texts(request) (every user text, latest last) /
    last_tool_results(request) (the tool results of the last user message)."""

    def route(self, method, path):
        raise NotImplementedError

    def check(self, handler, body):
        return None

    def answer(self, turn, request, index):
        raise NotImplementedError

    def error(self, status, message, turn):
        raise NotImplementedError

    def last_user_texts(self, request):
        raise NotImplementedError

    def last_tool_results(self, request):
        raise NotImplementedError

    def reply_text(self, turn, request):
        """The text of a final answer for turn (narrate / echo / text)."""
        if turn.get("narrate"):
            block = None
            for t in reversed(self.last_user_texts(request)):
                block = last_json_block(t)
                if block is not None:
                    break
            if block is None:
                return "fake: no ```json block in the last user message"
            return narratives(block)
        if turn.get("echo_tool_results"):
            return "Here is what the data says: " + " | ".join(self.last_tool_results(request))
        return turn.get("text", "")

    @staticmethod
    def usage(turn, body, text):
        u = turn.get("usage") or {}
        return int(u.get("input", max(1, len(body) // 4))), int(u.get("output", max(1, len(text) // 4)))


def serve(provider, script_path, record_path):
    script = Script(script_path)
    record_lock = threading.Lock()
    counter = [0]
    latency = float(os.environ.get("FAKE_MODEL_LATENCY", "0") or 0)
    flight = {"now": 0, "peak": 0}
    flight_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            # Headers and body are written separately on a kept-alive
            # connection: without TCP_NODELAY, Nagle holds the body until the
            # client's delayed ACK (40 ms), which would swamp the latency.
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, fmt, *args):
            pass

        def send(self, status, headers, body):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/requests":
                return self.send(200, [("Content-Type", "application/json")],
                                 json.dumps({"requests": counter[0]}).encode())
            if self.path == "/peak":
                with flight_lock:
                    doc = {"peak": flight["peak"], "in_flight": flight["now"]}
                return self.send(200, [("Content-Type", "application/json")], json.dumps(doc).encode())
            return self.send(404, [("Content-Type", "application/json")], b'{"message":"not found"}')

        def do_POST(self):
            if self.path == "/peak/reset":
                self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                with flight_lock:
                    flight["peak"] = 0
                return self.send(200, [("Content-Type", "application/json")], b'{"peak":0}')
            with flight_lock:
                flight["now"] += 1
                flight["peak"] = max(flight["peak"], flight["now"])
            try:
                if latency > 0:
                    time.sleep(latency)
                return self.model_post()
            finally:
                with flight_lock:
                    flight["now"] -= 1

        def model_post(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            if not provider.route(self.command, self.path):
                return self.send(*provider.error(404, "fake: no such endpoint %s" % self.path, {}))
            turn_index = None
            bad = provider.check(self, body)
            turn = None
            if bad is None:
                turn, turn_index = script.take()
            with record_lock:
                counter[0] += 1
                with open(record_path, "a") as f:
                    f.write(json.dumps({"method": self.command, "path": self.path,
                                        "headers": dict(self.headers.items()),
                                        "body": body.decode("utf-8", "replace"),
                                        "turn": turn_index}) + "\n")
            if bad is not None:
                return self.send(*bad)
            if turn is None:
                return self.send(*provider.error(400, "fake: script exhausted", {}))
            try:
                request = json.loads(body)
            except ValueError as e:
                return self.send(*provider.error(400, "fake: request body is not JSON: %s" % e, {}))
            if "raw" in turn:
                return self.send(200, [("Content-Type", "application/json")], turn["raw"].encode())
            if "status" in turn and turn["status"] != 200:
                return self.send(*provider.error(turn["status"], turn.get("error", "fake error"), turn))
            return self.send(*provider.answer(turn, request, turn_index))

    class Server(ThreadingHTTPServer):
        # The listen backlog: the default 5 would make the 6th..15th
        # simultaneous connect of a 3 x 5 fan-out wait for a SYN retry (1 s).
        request_queue_size = 64

    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    sys.stdin.read()
    srv.shutdown()
