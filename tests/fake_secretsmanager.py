#!/usr/bin/python3
"""A fake AWS Secrets Manager (GetSecretValue only), loopback only.

It verifies each request's Signature Version 4 with its own implementation
(Python's hmac/hashlib, written from AWS's "Create a signed AWS API request"
documentation), independent of revops' C signer: a wrong signature gets
AWS's 403 InvalidSignatureException.  Credentials it accepts:
AKIDTEST / secretTEST (and session token "tokTEST" when one is sent).

Secrets: "revops/firebolt" = {"client_id": "fb-id", "client_secret": "fb-s3cret-value"},
"plain" = "hunter2-value"; anything else -> 400 ResourceNotFoundException.
Prints "PORT n", exits when stdin closes.  GET /calls returns how many calls it served.
"""
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY, SECRET, TOKEN = "AKIDTEST", "secretTEST", "tokTEST"
SECRETS = {"revops/firebolt": json.dumps({"client_id": "fb-id", "client_secret": "fb-s3cret-value"}),
           "plain": "hunter2-value"}
calls = [0]


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def expected_signature(method, path, query, headers, signed, body, amz_date, region, service):
    canonical_headers = "".join("%s:%s\n" % (h, " ".join(headers[h].split())) for h in signed)
    creq = "\n".join([method, path, query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = sign(("AWS4" + SECRET).encode(), amz_date[:8])
    k = sign(k, region)
    k = sign(k, service)
    k = sign(k, "aws4_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/calls":
            return self.reply(200, {"calls": calls[0]})
        return self.reply(404, {"__type": "UnknownOperationException"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        calls[0] += 1
        auth = self.headers.get("Authorization", "")
        try:
            algo, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            key, date, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
        except (ValueError, KeyError):
            return self.reply(403, {"__type": "IncompleteSignatureException", "message": "Authorization header malformed"})
        if algo != "AWS4-HMAC-SHA256" or key != KEY or service != "secretsmanager" or term != "aws4_request":
            return self.reply(403, {"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."})
        headers = {k.lower(): v for k, v in self.headers.items()}
        if "host" not in signed or "x-amz-date" not in signed:
            return self.reply(403, {"__type": "IncompleteSignatureException", "message": "host and x-amz-date must be signed"})
        if "x-amz-security-token" in headers and headers["x-amz-security-token"] != TOKEN:
            return self.reply(403, {"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."})
        want = expected_signature("POST", self.path.split("?")[0], "", headers, signed, body,
                                  headers.get("x-amz-date", ""), region, service)
        if parts.get("Signature") != want:
            return self.reply(403, {"__type": "InvalidSignatureException",
                                    "message": "The request signature we calculated does not match the signature you provided."})
        if headers.get("x-amz-target") != "secretsmanager.GetSecretValue":
            return self.reply(400, {"__type": "UnknownOperationException"})
        req = json.loads(body)
        name = req.get("SecretId")
        if name not in SECRETS:
            return self.reply(400, {"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException",
                                    "Message": "Secrets Manager can't find the specified secret."})
        return self.reply(200, {"ARN": "arn:aws:secretsmanager:%s:000000000000:secret:%s" % (region, name),
                                "Name": name, "SecretString": SECRETS[name], "VersionId": "v1"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
