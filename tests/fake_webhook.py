#!/usr/bin/python3
"""A fake webhook receiver for tests/sink_webhook.sh, loopback only: a Zapier-style catch
hook that also checks what a careful receiver checks.  Written from public docs:

  https://zapier.com/help/webhooks/  (Webhooks by Zapier, Catch Hook)
      POST to https://hooks.zapier.com/hooks/catch/<account>/<hook>/; a JSON body is parsed
      (nested JSON too).  The answer is always the same success object, which the Zap cannot
      change: 200 {"attempt": "<uuid>", "id": "<uuid>", "request_id": "<uuid>",
      "status": "success"}.  Over the rate limit: 429; Zapier advises retrying anything but
      a 200 with exponential backoff.
  draft-ietf-httpapi-idempotency-key-header (IETF httpapi WG, "The Idempotency-Key HTTP
      Header Field"): a request repeated with a key already seen is not processed again;
      the server answers as it did the first time.  (The draft also answers 422 for a key
      reused with a different payload; this fake compares keys only, because a delivery
      repeated in a later run carries that run's session id and a fresh timestamp.)
  Signatures as Stripe ("Verify webhook signatures": HMAC-SHA256 of "<timestamp>.<raw
      body>", compared in constant time, timestamps older than five minutes refused) and
      Slack ("Verifying requests from Slack", same five minutes): with --secret, a request
      needs X-Revops-Timestamp and X-Revops-Signature: sha256=<hex HMAC-SHA256(secret,
      timestamp + "." + raw body)>, else 401.

Arguments: --record FILE (one JSON line per hook request: t, path, headers, body, status,
verdict), --secret S (check signatures), --tolerance SECONDS (default 300).

Verdicts: event (new, 200), duplicate (key seen before, 200 with the first answer), fault
(an injected failure), unsigned / stale / bad_signature (401), not_json (400: a JSON
receiver refuses a body Python's json module cannot read strictly), no_key (a new event
without an Idempotency-Key).

Control (not part of any real API):
  POST /_control/fail {"status": 500|429|400|..., "times": N, "retry_after": S, "body": TEXT}
      the next N hook requests get that answer (Retry-After: S when given).
  POST /_control/fail {"clear": true}  forget the answers still queued.
  GET /_control/stats -> {"requests", "events", "duplicates", "refused", "faults"}

Prints "PORT <n>" once it listens and exits when its stdin closes.
"""
import argparse
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
seen = {}          # Idempotency-Key -> the first answer
faults = []        # pending injected answers
stats = {"requests": 0, "events": 0, "duplicates": 0, "refused": 0, "faults": 0}
ARGS = None


def strict_json(text):
    def no_constant(name):
        raise ValueError("%s is not JSON" % name)
    return json.loads(text, parse_constant=no_constant)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # Keep-alive with the header block and the body written separately:
        # without TCP_NODELAY, Nagle holds the body until the client's
        # delayed ACK (40 ms on Linux) on every reused connection.
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj, headers=None):
        data = (obj if isinstance(obj, str) else json.dumps(obj)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(obj, str) else "text/html")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, raw, status, verdict):
        if not ARGS.record:
            return
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = raw.decode("latin-1")
        entry = {"t": time.time(), "path": self.path, "headers": {k: v for k, v in self.headers.items()},
                 "body": body, "status": status, "verdict": verdict}
        with lock, open(ARGS.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def do_GET(self):
        if self.path == "/_control/stats":
            with lock:
                return self.send(200, dict(stats))
        self.send(404, {"status": "error", "message": "not found"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/_control/fail":
            spec = json.loads(raw)
            with lock:
                if spec.get("clear"):
                    faults.clear()
                for _ in range(0 if spec.get("clear") else int(spec.get("times", 1))):
                    faults.append(spec)
            return self.send(200, {"ok": True})
        if not self.path.startswith("/hooks/catch/"):
            return self.send(404, {"status": "error", "message": "no hook at %s" % self.path})
        with lock:
            stats["requests"] += 1
            fault = faults.pop(0) if faults else None
            if fault:
                stats["faults"] += 1
        if fault:
            st = int(fault["status"])
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
            body = fault.get("body")
            if body is None:
                body = "<html><body><h1>%d</h1></body></html>" % st if st >= 500 else \
                    {"status": "error", "message": "injected %d" % st}
            self.record(raw, st, "fault")
            return self.send(st, body, headers)

        if ARGS.secret is not None:
            ts = self.headers.get("X-Revops-Timestamp")
            sig = self.headers.get("X-Revops-Signature")
            verdict = None
            if not ts or not sig:
                verdict, msg = "unsigned", "X-Revops-Timestamp and X-Revops-Signature are required"
            elif not ts.isdigit() or abs(time.time() - int(ts)) > ARGS.tolerance:
                verdict, msg = "stale", "timestamp outside the tolerance of %d seconds" % ARGS.tolerance
            else:
                want = "sha256=" + hmac.new(ARGS.secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, sig):
                    verdict, msg = "bad_signature", "signature mismatch"
            if verdict:
                with lock:
                    stats["refused"] += 1
                self.record(raw, 401, verdict)
                return self.send(401, {"status": "error", "message": msg})

        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if ctype != "application/json":
                raise ValueError("Content-Type is %r, not application/json" % ctype)
            strict_json(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            with lock:
                stats["refused"] += 1
            self.record(raw, 400, "not_json")
            return self.send(400, {"status": "error", "message": "body is not valid JSON: %s" % e})

        key = self.headers.get("Idempotency-Key")
        with lock:
            if key is not None and key in seen:
                stats["duplicates"] += 1
                answer, verdict = seen[key], "duplicate"
            else:
                stats["events"] += 1
                answer = {"attempt": str(uuid.uuid4()), "id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()),
                          "status": "success"}
                verdict = "event" if key is not None else "no_key"
                if key is not None:
                    seen[key] = answer
        self.record(raw, 200, verdict)
        self.send(200, answer)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--record")
    p.add_argument("--secret")
    p.add_argument("--tolerance", type=int, default=300)
    ARGS = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
