#!/usr/bin/python3
"""A small HTTP server for the core's HTTP client tests, loopback only.

Prints "PORT <n>" on stdout once it listens, then serves:
  GET  /ok                      200 {"ok": true}
  GET  /flaky/<key>/<n>         429 + Retry-After: 1 for the first n requests of <key>, then 200
  GET  /flaky503/<key>/<n>      503 without Retry-After for the first n requests, then 200
  GET  /status/<code>           that status, body {"error": "..."}
  GET  /retry-after/<seconds>   429 + Retry-After: <seconds>, always
  GET  /slow/<seconds>          sleeps, then 200
  POST /echo                    200 with the method, headers and body it received, as JSON
It exits when its stdin closes, so a test that dies cannot leave it behind.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def count(self, key):
        with lock:
            counts[key] = counts.get(key, 0) + 1
            return counts[key]

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "ok":
            return self.reply(200, {"ok": True})
        if parts[0] in ("flaky", "flaky503") and len(parts) == 3:
            n = self.count(parts[0] + parts[1])
            if n <= int(parts[2]):
                if parts[0] == "flaky":
                    return self.reply(429, {"error": "rate limited"}, {"Retry-After": "1"})
                return self.reply(503, {"error": "unavailable"})
            return self.reply(200, {"ok": True, "attempt": n})
        if parts[0] == "status":
            return self.reply(int(parts[1]), {"error": "status %s as asked" % parts[1]})
        if parts[0] == "retry-after":
            return self.reply(429, {"error": "slow down"}, {"Retry-After": parts[1]})
        if parts[0] == "slow":
            time.sleep(float(parts[1]))
            return self.reply(200, {"ok": True})
        return self.reply(404, {"error": "no such path"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        if self.path.split("?")[0] == "/echo":
            return self.reply(200, {"method": "POST", "headers": dict(self.headers), "body": body})
        return self.reply(404, {"error": "no such path"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
