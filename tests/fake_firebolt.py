#!/usr/bin/python3
"""A fake Firebolt for the firebolt source's tests: the ID endpoint, the API
endpoint and the engines, all on one loopback port.

Written from Firebolt's public documentation:
  - Firebolt API (REST): token, system engine URL, user engine URL, queries
    https://docs.firebolt.io/guides/developing-with-firebolt/using-the-api
    (also published as https://docs.firebolt.io/Guides/query-data/using-the-api.html)
  - Manage programmatic access (service accounts, the token request/response)
    https://docs.firebolt.io/guides/managing-your-organization/service-accounts
  - Query API OpenAPI (QueryResult: query, meta [{name,type}], rows, data
    [[string|number|boolean]], statistics {elapsed, rows_read, bytes_read, ...}):
    https://docs.firebolt.io/api-reference/submit-a-sql-statement-for-execution
  - Output formats, system settings in the query string, JSON_Compact:
    https://docs.firebolt.io/firebolt-core/firebolt-core-connect
    https://docs.firebolt.io/self-managed/connecting-over-http
The public docs do not spell out error bodies.  Their shapes here follow
Firebolt's own SDKs: structured query errors {"errors": [{code, name,
severity, source, description, resolution, helpLink, location}]}
(firebolt-python-sdk, FireboltStructuredError / raise_error_from_response),
the API gateway's {"error", "code", "message", "details"} (firebolt-go-sdk,
client/http_client.go checkErrorResponse), plain text for a 500 (the same
file), and OAuth 2.0's {"error", "error_description"} (RFC 6749 5.2) for
the token endpoint.

Deviation, needed on loopback: the engine URLs this fake hands out carry an
explicit http:// scheme (real ones are bare host names meaning https://).

Routes (the plugin's id_url / api_url point here):
  POST /oauth/token                        form grant_type=client_credentials, client_id,
                                           client_secret, audience=https://api.firebolt.io
                                           -> {access_token, token_type: Bearer, expires_in}
  GET  /web/v3/account/<account>/engineUrl -> {"engineUrl": "http://127.0.0.1:<port>/system"}
  POST /system[?...]                       the system engine: SELECT url FROM
                                           information_schema.engines WHERE engine_name='<e>',
                                           or any query below
  POST /engine?engine=<e>&database=<db>&output_format=JSON_Compact
                                           a user engine (its url is "<host>/engine?engine=<e>",
                                           so a client appends "&database=...")
Queries (the body is the SQL as plain text; Authorization: Bearer <token>):
  SELECT * FROM rows(N)  (or generate_rows(N), optional ORDER BY id)
        N typed rows: id bigint, name "text null" (NULL every 7th), day date,
        amount double, active boolean, created_at timestamp, updated_at timestamptz;
        written with chunked transfer, about 64 KiB per chunk, as it is generated
  SELECT * FROM types    one row per Firebolt type spelling (Nullable(...), "x null",
                         long, pgdate, numeric as text, quoted bigint, array(int) ...)
  anything else          400 with a structured error (relation ... does not exist)
Control (tests only):
  GET  /control/stats    counters, tokens issued, protocol violations seen, last body size
  POST /control/reset    counters and violations to zero, no fault (tokens stay valid)
  POST /control/fault    body "KIND [TIMES]" (TIMES -1: always); KIND one of
                         429 500 503 timeout truncate malformed wrongtype expired empty none
Environment: FB_CLIENT_ID, FB_CLIENT_SECRET, FB_ACCOUNT, FB_DATABASE, FB_ENGINE,
FB_EXPIRES_IN, FB_FAULT ("KIND[:TIMES]"), FB_SLEEP (seconds the timeout fault waits).
Prints "PORT <n>" once it listens; exits when its stdin closes.
"""
import datetime
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = os.environ.get("FB_CLIENT_ID", "svc-id-0001")
CLIENT_SECRET = os.environ.get("FB_CLIENT_SECRET", "svc-secret-0001")
ACCOUNT = os.environ.get("FB_ACCOUNT", "acme")
DATABASE = os.environ.get("FB_DATABASE", "revops")
ENGINE = os.environ.get("FB_ENGINE", "analytics")
EXPIRES_IN = int(os.environ.get("FB_EXPIRES_IN", "86400"))
SLEEP = float(os.environ.get("FB_SLEEP", "4"))
AUDIENCE = "https://api.firebolt.io"
PIECE = 64 * 1024

lock = threading.Lock()
tokens = {}            # token -> expiry (monotonic seconds)
issued = []            # every token ever issued, for the tests' leak checks
COUNTERS = ("token_requests", "engine_url_requests", "engine_lookups", "queries", "system_queries",
            "auth_failures", "faults_served", "last_body_bytes")
stats = dict({k: 0 for k in COUNTERS}, violations=[])
fault = {"kind": "none", "left": 0}


def set_fault(spec):
    kind, _, times = spec.partition(":") if ":" in spec else spec.partition(" ")
    fault["kind"] = kind.strip() or "none"
    fault["left"] = 0 if fault["kind"] == "none" else int(times) if times.strip() else 1


set_fault(os.environ.get("FB_FAULT", "none"))


def take_fault():
    """The fault for this query request, if one is armed."""
    with lock:
        if fault["kind"] == "none" or fault["left"] == 0:
            return None
        if fault["left"] > 0:
            fault["left"] -= 1
        stats["faults_served"] += 1
        return fault["kind"]


def violation(what):
    with lock:
        stats["violations"].append(what)


def structured_error(description, name, code, start=0, end=0, resolution=None):
    return {"errors": [{"code": code, "name": name, "severity": "ERROR", "source": "User Error",
                        "description": description,
                        "resolution": resolution or "Check the query and try again.",
                        "helpLink": "https://docs.firebolt.io/",
                        "location": {"failingLine": 1, "startOffset": start, "endOffset": end}}],
            "query": {"query_id": secrets.token_hex(8)}}


def gateway_error(code, message):
    return {"error": message, "code": code, "message": message, "details": []}


ROW_META = [{"name": "id", "type": "bigint"}, {"name": "name", "type": "text null"},
            {"name": "day", "type": "date"}, {"name": "amount", "type": "double"},
            {"name": "active", "type": "boolean"}, {"name": "created_at", "type": "timestamp"},
            {"name": "updated_at", "type": "timestamptz"}]
EPOCH = datetime.datetime(2024, 1, 1)


def gen_row(i, wrongtype=False):
    day = (EPOCH + datetime.timedelta(days=i % 366)).strftime("%Y-%m-%d")
    ts = (EPOCH + datetime.timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
    return [("abc" if wrongtype else i), (None if i % 7 == 6 else "account %d \"q\"" % i), day, i * 1.25,
            i % 3 == 0, ts + ".5", ts + "+00"]


TYPES_META = [{"name": "a", "type": "Nullable(Int64)"}, {"name": "b", "type": "int null"},
              {"name": "c", "type": "long"}, {"name": "d", "type": "numeric(38, 9)"},
              {"name": "e", "type": "real"}, {"name": "f", "type": "pgdate"},
              {"name": "g", "type": "timestamptz"}, {"name": "h", "type": "array(int)"},
              {"name": "i", "type": "boolean not null"}, {"name": "j", "type": "double precision"},
              {"name": "k", "type": "text"}]
TYPES_DATA = [["9007199254740993", 7, -3, "12.340000000", 1.5, "2026-10-31", "2026-10-31 08:30:00.25+00",
               [1, 2, 3], False, "nan", "caf\u00e9 \u2603"],
              [None, None, 0, 0.5, None, None, None, None, True, 2.5, None]]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=None, ctype="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def authorized(self):
        """Bearer <token> with a token this fake issued and that has not expired."""
        h = self.headers.get("Authorization", "")
        ok = False
        if h.startswith("Bearer "):
            with lock:
                exp = tokens.get(h[7:])
                ok = exp is not None and exp > time.monotonic()
        if not ok:
            with lock:
                stats["auth_failures"] += 1
            self.reply(401, gateway_error(16, "Unauthenticated: the access token is invalid or expired"))
        return ok

    # ---------------------------------------------------------------- GET
    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/control/stats":
            with lock:
                out = dict(stats, tokens=list(issued), fault=dict(fault))
            return self.reply(200, out)
        m = re.fullmatch(r"/web/v3/account/([^/]+)/engineUrl", path)
        if m:
            with lock:
                stats["engine_url_requests"] += 1
            if self.headers.get("Accept") != "application/json":
                violation("engineUrl without Accept: application/json")
            if not self.authorized():
                return
            account = urllib.parse.unquote(m.group(1))
            if account != ACCOUNT:
                return self.reply(404, gateway_error(5, "account '%s' does not exist in this organization "
                                                        "or is not authorized" % account))
            return self.reply(200, {"engineUrl": "http://127.0.0.1:%d/system" % self.server.server_address[1]})
        return self.reply(404, gateway_error(5, "no such path"))

    # --------------------------------------------------------------- POST
    def do_POST(self):
        parts = urllib.parse.urlsplit(self.path)
        path, params = parts.path, dict(urllib.parse.parse_qsl(parts.query))
        raw = self.body()
        if path == "/control/fault":
            with lock:
                set_fault(raw.decode().strip())
            return self.reply(200, {"fault": fault})
        if path == "/control/reset":
            with lock:
                stats.update({k: 0 for k in COUNTERS}, violations=[])
                set_fault("none")
            return self.reply(200, {"reset": True})
        if path == "/oauth/token":
            return self.token(raw)
        if path in ("/system", "/engine"):
            return self.query(path, params, raw)
        return self.reply(404, gateway_error(5, "no such path"))

    def token(self, raw):
        with lock:
            stats["token_requests"] += 1
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            violation("token request is not application/x-www-form-urlencoded")
            return self.reply(400, {"error": "invalid_request", "error_description": "form body expected"})
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        if form.get("grant_type") != "client_credentials" or form.get("audience") != AUDIENCE:
            violation("token form: grant_type %r audience %r" % (form.get("grant_type"), form.get("audience")))
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "grant_type client_credentials and audience %s required"
                                                         % AUDIENCE})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self.reply(401, {"error": "access_denied", "error_description": "Unauthorized"})
        tok = "fbtok." + secrets.token_urlsafe(24)
        with lock:
            tokens[tok] = time.monotonic() + EXPIRES_IN
            issued.append(tok)
        return self.reply(200, {"access_token": tok, "token_type": "Bearer", "expires_in": EXPIRES_IN})

    def query(self, path, params, raw):
        sql = raw.decode("utf-8", "replace")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("text/"):
            violation("query body sent as %r, not plain text" % ctype)
        norm = " ".join(sql.split())
        lookup = re.fullmatch(r"SELECT url FROM information_schema\.engines WHERE engine_name\s*=\s*'((?:[^']|'')*)'",
                              norm, re.I)
        if lookup:
            with lock:
                stats["engine_lookups"] += 1
            if path != "/system":
                violation("engine lookup sent to a user engine")
            if not self.authorized():
                return
            name = lookup.group(1).replace("''", "'")
            port = self.server.server_address[1]
            data = [["http://127.0.0.1:%d/engine?engine=%s" % (port, urllib.parse.quote(name))]] if name == ENGINE else []
            return self.reply(200, {"query": {"query_id": secrets.token_hex(8)}, "meta": [{"name": "url", "type": "text"}],
                                    "data": data, "rows": len(data),
                                    "statistics": {"elapsed": 0.001, "rows_read": 1, "bytes_read": 64}})
        with lock:
            stats["queries"] += 1
            if path == "/system":
                stats["system_queries"] += 1
        if path == "/engine" and params.get("engine") != ENGINE:
            violation("user engine URL lost its engine parameter: %r" % params)
        kind = take_fault()
        if kind == "expired":
            with lock:
                tokens.clear()   # every token issued so far has expired
        if not self.authorized():
            return
        if params.get("output_format") != "JSON_Compact":
            violation("output_format %r" % params.get("output_format"))
            return self.reply(400, structured_error("unknown output format", "INVALID_INPUT", "1001"))
        if params.get("database") != DATABASE:
            return self.reply(400, structured_error("Database '%s' does not exist or not authorized."
                                                    % params.get("database"), "DATABASE_NOT_FOUND", "1002"))
        if kind == "429":
            return self.reply(429, gateway_error(8, "Too many requests: the engine's query queue is full"),
                              {"Retry-After": "1"})
        if kind == "500":
            return self.reply(500, "Internal error: the engine restarted while running the query",
                              ctype="text/plain")
        if kind == "503":
            return self.reply(503, gateway_error(14, "Engine is starting up, retry in a moment"))
        if kind == "timeout":
            time.sleep(SLEEP)
        if kind == "empty":
            return self.reply(200, b"")
        m = re.fullmatch(r"SELECT \* FROM (?:generate_)?rows\((\d+)\)(?: ORDER BY id)? ?;?", norm, re.I)
        if m:
            return self.rows(int(m.group(1)), kind)
        if re.fullmatch(r"SELECT \* FROM types ?;?", norm, re.I):
            return self.send_result(TYPES_META, TYPES_DATA)
        rel = re.search(r"\bFROM\s+([A-Za-z_][\w.]*)", sql, re.I)
        if rel:
            start = rel.start(1)
            return self.reply(400, structured_error('relation "%s" does not exist' % rel.group(1), "RELATION_NOT_FOUND",
                                                    "1101", start, start + len(rel.group(1)),
                                                    "Check the table name and the database."))
        return self.reply(400, structured_error("syntax error at or near \"%s\"" % (norm.split(" ")[0] if norm else ""),
                                                "SYNTAX_ERROR", "1100", 0, 0))

    def send_result(self, meta, data):
        body = {"query": {"query_id": secrets.token_hex(8)}, "meta": meta, "data": data, "rows": len(data),
                "statistics": {"elapsed": 0.002, "rows_read": len(data), "bytes_read": 100 * len(data)}}
        text = json.dumps(body)
        with lock:
            stats["last_body_bytes"] = len(text)
        return self.reply(200, text)

    def rows(self, n, kind):
        """JSON_Compact, written with chunked transfer as rows are generated."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        pending = []
        size = 0

        def flush():
            nonlocal pending, size, sent
            if pending:
                data = "".join(pending).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                sent += len(data)
                pending, size = [], 0

        def add(text):
            nonlocal size
            pending.append(text)
            size += len(text)
            if size >= PIECE:
                flush()

        add('{"query":{"query_id":"%s"},"meta":%s,"data":[' % (secrets.token_hex(8), json.dumps(ROW_META)))
        bad_at = min(5, n - 1)
        for i in range(n):
            if kind == "truncate" and i == n // 2:
                flush()
                self.wfile.flush()
                self.close_connection = True   # no final chunk: the body ends in the middle
                with lock:
                    stats["last_body_bytes"] = sent
                return
            if kind == "malformed" and i == n // 2:
                add(',[%d, "broken" "row"]' % i)
                continue
            row = json.dumps(gen_row(i, kind == "wrongtype" and i == bad_at), separators=(",", ":"))
            add(("," if i else "") + row)
        add('],"rows":%d,"statistics":{"elapsed":0.25,"rows_read":%d,"bytes_read":%d,'
            '"scanned_bytes_cache":0,"scanned_bytes_storage":%d}}' % (n, n, 100 * n, 100 * n))
        flush()
        self.wfile.write(b"0\r\n\r\n")
        with lock:
            stats["last_body_bytes"] = sent


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up (timeouts, a stopped transfer) is not news


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
