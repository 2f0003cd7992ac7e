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
  POST /token/<expires_in>      OAuth token endpoint: form grant_type=client_credentials,
                                client_id=id, client_secret=s3cret -> a new access_token each
                                time ("tok-<n>"); wrong secret -> 401 {"error":"invalid_client"}
  GET  /api                     200 only with "Authorization: Bearer <latest token>", else 401
  GET  /tokens                  how many tokens were issued
  GET  /stream/<n>              {"meta":[...],"data":[[i,"row-i"], ...n rows],"rows":n} sent in
                                small chunked pieces
  GET  /stream-cut/<n>          the same, cut off after half the rows (chunked, no final chunk)
  GET  /stream-bad              200 with a malformed element in "data"
It exits when its stdin closes, so a test that dies cannot leave it behind.
"""
import json
import urllib.parse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
lock = threading.Lock()
tokens = []


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
        if parts[0] == "api":
            with lock:
                latest = tokens[-1] if tokens else None
            if latest and self.headers.get("Authorization") == "Bearer " + latest:
                return self.reply(200, {"ok": True})
            return self.reply(401, {"error": "invalid_token"})
        if parts[0] == "tokens":
            return self.reply(200, {"issued": len(tokens)})
        if parts[0] == "stream":
            return self.stream(int(parts[1]))
        if parts[0] == "stream-cut":
            return self.stream(int(parts[1]), cut=True)
        if parts[0] == "stream-bad":
            return self.stream(10, bad=True)
        if parts[0] == "slow":
            time.sleep(float(parts[1]))
            return self.reply(200, {"ok": True})
        return self.reply(404, {"error": "no such path"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        path = self.path.split("?")[0]
        if path == "/echo":
            return self.reply(200, {"method": "POST", "headers": dict(self.headers), "body": body})
        if path.startswith("/token/"):
            form = dict(urllib.parse.parse_qsl(body))
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                return self.reply(400, {"error": "invalid_request", "error_description": "form expected"})
            if form.get("grant_type") != "client_credentials" or form.get("client_id") != "id" \
                    or form.get("client_secret") != "s3cret":
                return self.reply(401, {"error": "invalid_client", "error_description": "bad client credentials"})
            with lock:
                tokens.append("tok-%d" % (len(tokens) + 1))
                tok = tokens[-1]
            resp = {"access_token": tok, "token_type": "Bearer"}
            if int(path.split("/")[2]) > 0:
                resp["expires_in"] = int(path.split("/")[2])
            return self.reply(200, resp)
        return self.reply(404, {"error": "no such path"})

    def stream(self, n, cut=False, bad=False):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def piece(text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        piece('{"meta": [{"name": "id", "type": "int"}, {"name": "name", "type": "text"}],\n "data": [')
        for i in range(n):
            if cut and i == n // 2:
                self.wfile.flush()
                self.close_connection = True
                return
            row = '[%d, "row-%d \\"q\\" ]"]' % (i, i) if not (bad and i == 3) else '[%d, "oops" "x"]' % i
            piece(("," if i else "") + row)
        piece('],\n "rows": %d, "statistics": {"elapsed": 0.1}}' % n)
        self.wfile.write(b"0\r\n\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-response (as tests make it) is not news


def main():
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
