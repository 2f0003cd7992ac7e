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
  anything else          400 with a structured error (relation ... does not exist),
                         unless in warehouse mode:
  anything else, in warehouse mode (FB_PG_DSN set; see below):
                         executed on that PostgreSQL, answered as a user engine answers
Warehouse mode (env FB_PG_DSN, a libpq conninfo such as "host=/tmp/pgdir port=5432
dbname=warehouse user=revops_admin"; needs psycopg2, Debian's python3-psycopg2):
  every query that is not a synthetic one above runs on that PostgreSQL (one
  connection per request, session time zone UTC, DateStyle ISO, read only,
  search_path fb_compat, public) and comes back as Firebolt's JSON_Compact:
    meta        [{name, type}] with Firebolt's type names: integer (int2/int4),
                bigint, real, double precision, numeric(p, s), text (text, varchar,
                char, name, and any type Firebolt lacks, as its text), boolean, date,
                timestamp, timestamptz, bytea, array(<t>); " null" appended for a
                nullable column (a table column without NOT NULL, and every computed
                column: the fake does not infer an expression's nullability)
    data        rows as arrays: integers and doubles as JSON numbers (a bigint outside
                +-2^53 as a quoted string, as in the types row above; NaN and
                infinities as "nan", "inf", "-inf"), numeric as text, dates and
                timestamps as PostgreSQL's ISO text ("2026-11-01", "2026-11-01 10:00:00",
                "2026-11-01 10:00:00.25+00"), bytea as "\\x...", NULL as null;
                written with chunked transfer, about 64 KiB per chunk, as rows are
                fetched (a server-side cursor)
    rows, statistics {elapsed, rows_read (= rows returned), bytes_read, ...}
  A PostgreSQL error is a 400 with the structured error body above: the server's
  message as description, a Firebolt-style name and code from the SQLSTATE
  (RELATION_NOT_FOUND 1101, SYNTAX_ERROR 1100, COLUMN_NOT_FOUND 1102,
  FUNCTION_NOT_FOUND 1103, else the condition's name and 1000), the position as
  failingLine / offsets; a lost server is a 503.  At startup the fake creates, in
  schema fb_compat, the Firebolt functions PostgreSQL lacks or types
  differently (FIREBOLT_SHIMS: DATE_ADD, DATE_TRUNC on a date); a failure
  there is fatal (message on stderr, exit 1, before "PORT").
SQLite mode (env FB_SQLITE, a file path; for the firebolt_insights sink's tests):
  every query that is not a synthetic one above runs on a small Firebolt SQL subset kept
  in that SQLite file, with Firebolt's documented semantics where they matter to a writer
  (github.com/firebolt-db/godocs, docs/sql_reference/commands/data-definition/
  create-fact-dimension-table.md, data-management/insert.md, data-types.md,
  Reference/system-settings.md):
    CREATE [FACT|DIMENSION] TABLE [IF NOT EXISTS] t (col type [NULL | NOT NULL] ...)
        [PRIMARY INDEX col, ...]      a column without NULL is NOT NULL (the docs' default);
                                     an index column must be NOT NULL; types TEXT (STRING,
                                     VARCHAR), INTEGER (INT, INT4), BIGINT (LONG, INT8),
                                     DOUBLE PRECISION (DOUBLE, FLOAT8, FLOAT), REAL, BOOLEAN,
                                     DATE, TIMESTAMP; a second CREATE without IF NOT EXISTS
                                     is an error
    INSERT INTO t [(cols)] VALUES (...), (...)
                                     literals: standard strings ('' for a quote, a backslash
                                     an ordinary character: standard_conforming_strings, the
                                     default; "false" in the query string makes \\, \' , \n,
                                     \t escapes), numbers, NULL, TRUE/FALSE, TIMESTAMP '...',
                                     DATE '...'; each value checked against its column's type
                                     (a NULL in a NOT NULL column, text in a number column, an
                                     invalid timestamp: errors); a NUL byte in a literal is an
                                     error ("null bytes are not supported in TEXT literals")
    SELECT * | cols FROM t [WHERE col IN (literals)] [ORDER BY col [ASC|DESC]]
                                     answered as JSON_Compact (meta with " null" on nullable
                                     columns, data, rows, statistics)
  A statement without a result set answers 200 with an empty body (Content-Length: 0),
  as Firebolt does for INSERT (firebolt-python-sdk: "Empty response is returned for
  insert query").  Errors are 400 with the structured error body: SYNTAX_ERROR 1100,
  RELATION_NOT_FOUND 1101, COLUMN_NOT_FOUND 1102, RELATION_EXISTS 1104, TYPE_MISMATCH 1105,
  NULL_MISMATCH 1106 (codes are this fake's); with the fault "readonly" armed, CREATE and
  INSERT answer 403 PERMISSION_DENIED 1107 (the service account's role lacks the privilege).
  The body must be valid UTF-8 (else 400).  Tables live in the SQLite file (the column
  catalog in _fb_columns), so a test can read them directly.
Request record (env FB_RECORD, a file path): one JSON line per request: method, path,
  params (the query string), body (the SQL; a token request's form is not recorded),
  status.
Control (tests only):
  GET  /control/stats    counters, tokens issued, protocol violations seen, last body size
  POST /control/reset    counters and violations to zero, no fault (tokens stay valid)
  POST /control/fault    body "KIND [TIMES]" (TIMES -1: always); KIND one of
                         429 500 503 timeout truncate malformed wrongtype expired empty readonly none
                         (truncate, malformed, wrongtype: on rows(N) only)
Environment: FB_CLIENT_ID, FB_CLIENT_SECRET, FB_ACCOUNT, FB_DATABASE, FB_ENGINE,
FB_EXPIRES_IN, FB_FAULT ("KIND[:TIMES]"), FB_SLEEP (seconds the timeout fault waits),
FB_PG_DSN (warehouse mode), FB_SQLITE (SQLite mode), FB_RECORD (request record).
Prints "PORT <n>" once it listens; exits when its stdin closes.
"""
import datetime
import json
import os
import re
import secrets
import sqlite3
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


def structured_error(description, name, code, start=0, end=0, resolution=None, line=1):
    return {"errors": [{"code": code, "name": name, "severity": "ERROR", "source": "User Error",
                        "description": description,
                        "resolution": resolution or "Check the query and try again.",
                        "helpLink": "https://docs.firebolt.io/",
                        "location": {"failingLine": line, "startOffset": start, "endOffset": end}}],
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

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def record(self, method, raw=b""):
        if not RECORD:
            return
        parts = urllib.parse.urlsplit(self.path)
        if parts.path.startswith("/control/"):
            return
        body = "(form not recorded)" if parts.path == "/oauth/token" else raw.decode("utf-8", "replace")
        line = json.dumps({"method": method, "path": parts.path, "params": dict(urllib.parse.parse_qsl(parts.query)),
                           "body": body, "status": getattr(self, "_status", 0)}, ensure_ascii=False)
        with lock:
            with open(RECORD, "a", encoding="utf-8") as f:
                f.write(line + "\n")

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
        try:
            self.get()
        finally:
            self.record("GET")

    def get(self):
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
        raw = self.body()
        try:
            self.post(raw)
        finally:
            self.record("POST", raw)

    def post(self, raw):
        parts = urllib.parse.urlsplit(self.path)
        path, params = parts.path, dict(urllib.parse.parse_qsl(parts.query))
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
        if PG_DSN:
            return self.warehouse(sql)
        if SQLITE_PATH:
            return self.sqlite_mode(raw, params, kind)
        rel = re.search(r"\bFROM\s+([A-Za-z_][\w.]*)", sql, re.I)
        if rel:
            start = rel.start(1)
            return self.reply(400, structured_error('relation "%s" does not exist' % rel.group(1), "RELATION_NOT_FOUND",
                                                    "1101", start, start + len(rel.group(1)),
                                                    "Check the table name and the database."))
        return self.reply(400, structured_error("syntax error at or near \"%s\"" % (norm.split(" ")[0] if norm else ""),
                                                "SYNTAX_ERROR", "1100", 0, 0))

    def sqlite_mode(self, raw, params, kind):
        """SQLite mode: a Firebolt statement on the SQLite file (see the docstring)."""
        try:
            sql = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            return self.reply(400, structured_error("the query is not valid UTF-8 (byte %d)" % e.start,
                                                    "INVALID_INPUT", "1001", e.start, e.start + 1))
        try:
            with SQLITE_LOCK:
                out = fb_sqlite_execute(sql, params.get("standard_conforming_strings", "true") != "false",
                                        readonly=(kind == "readonly"))
        except FbSqlError as e:
            start = e.pos
            line = sql.count("\n", 0, start) + 1
            return self.reply(e.status, structured_error(e.desc, e.name, e.code, start, start, e.resolution, line))
        if out is None:
            return self.reply(200, b"")
        meta, data = out
        return self.send_result(meta, data)

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


    def warehouse(self, sql):
        """Warehouse mode: the query on PostgreSQL, the answer as Firebolt's JSON_Compact."""
        started = time.monotonic()
        try:
            conn = pg_connect()
        except psycopg2.Error as e:
            return self.reply(503, gateway_error(14, "Engine is unavailable: %s" % first_line(e)))
        try:
            text = sql.strip()
            while text.endswith(";"):
                text = text[:-1].rstrip()
            # A server-side cursor streams a SELECT; anything else (SHOW, SET ...) runs plainly.
            streamed = re.match(r"(?:\(\s*)*(SELECT|WITH|VALUES|TABLE)\b", text, re.I) is not None
            cur = conn.cursor(name="fb_" + secrets.token_hex(6)) if streamed else conn.cursor()
            if streamed:
                cur.itersize = 2000
            try:
                cur.execute(text)
                first = cur.fetchmany(2000) if streamed or cur.description is not None else []
            except psycopg2.Error as e:
                return self.pg_error(e, text, cur.query)
            if cur.description is None:     # a statement without a result set
                return self.send_result([], [])
            meta = pg_meta(conn, cur.description)
            return self.stream_warehouse(cur, meta, first, started)
        finally:
            try:
                conn.rollback()
                conn.close()
            except psycopg2.Error:
                pass

    def pg_error(self, e, text, cur_query=None):
        """A PostgreSQL error as Firebolt's structured 400 (503 when the server went away)."""
        if e.pgcode is None:    # no SQLSTATE: the connection broke
            return self.reply(503, gateway_error(14, "Engine is unavailable: %s" % first_line(e)))
        name, code = PG_ERRORS.get(e.pgcode, (None, "1000"))
        if name is None:
            name = (psycopg2.errorcodes.lookup(e.pgcode) or "QUERY_ERROR").upper()
        diag = e.diag
        desc = diag.message_primary or first_line(e)
        line, start, end = 1, 0, 0
        if diag.statement_position:
            # 1-based characters of the statement sent, which for a server-side cursor is
            # "DECLARE ... CURSOR ... FOR <text>": counted from <text> instead
            sent = cur_query.decode("utf-8", "replace") if cur_query else text
            shift = max(sent.find(text), 0)
            pos = min(max(int(diag.statement_position) - 1 - shift, 0), len(text))
            line = text.count("\n", 0, pos) + 1
            start = pos
            m = re.match(r"[\w.\"]+|\S", text[pos:])
            end = pos + (len(m.group(0)) if m else 0)
        resolution = diag.message_hint or ("Check the table name and the database." if e.pgcode == "42P01"
                                           else "Check the query and try again.")
        return self.reply(400, structured_error(desc, name, code, start, end, resolution, line))

    def stream_warehouse(self, cur, meta, first, started):
        """JSON_Compact with chunked transfer, rows written as they are fetched."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pending, size, sent, n, nbytes = [], 0, 0, 0, 0

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

        add('{"query":{"query_id":"%s","request_id":"%s","query_label":null},"meta":%s,"data":['
            % (secrets.token_hex(8), secrets.token_hex(8), json.dumps(meta)))
        batch = first
        try:
            while batch:
                for row in batch:
                    out = json.dumps([fb_value(v) for v in row], separators=(",", ":"), ensure_ascii=False)
                    nbytes += len(out)
                    add(("," if n else "") + out)
                    n += 1
                batch = cur.fetchmany(2000)
        except psycopg2.Error:
            # An error after the first rows: the body ends in the middle, as when an
            # engine fails mid-stream (the client sees a broken transfer).
            flush()
            self.wfile.flush()
            self.close_connection = True
            return
        elapsed = time.monotonic() - started
        add('],"rows":%d,"statistics":{"elapsed":%.6f,"rows_read":%d,"bytes_read":%d,'
            '"time_before_execution":0.0,"time_to_execute":%.6f,"scanned_bytes_cache":0,'
            '"scanned_bytes_storage":%d}}' % (n, elapsed, n, nbytes, elapsed, nbytes))
        flush()
        self.wfile.write(b"0\r\n\r\n")
        with lock:
            stats["last_body_bytes"] = sent


# ------------------------------------------------------------ warehouse mode --
PG_DSN = os.environ.get("FB_PG_DSN", "")
if PG_DSN:
    import psycopg2
    import psycopg2.errorcodes
    import psycopg2.extensions

# SQLSTATE -> (Firebolt-style error name, code); the codes are this fake's, as above.
PG_ERRORS = {"42P01": ("RELATION_NOT_FOUND", "1101"), "42601": ("SYNTAX_ERROR", "1100"),
             "42703": ("COLUMN_NOT_FOUND", "1102"), "42883": ("FUNCTION_NOT_FOUND", "1103")}

# Firebolt functions PostgreSQL lacks or types differently, created in schema fb_compat,
# which is on the fake's search_path only: the postgres source on the same database still
# sees PostgreSQL's own functions.  Each is written from Firebolt's SQL reference (URL next
# to it; the docs' source is github.com/firebolt-db/godocs, docs/...).
FIREBOLT_SHIMS = r"""
CREATE SCHEMA IF NOT EXISTS fb_compat;

-- The interval one <unit> of DATE_ADD stands for (the units DATE_ADD documents, below);
-- an unknown unit is an error.
CREATE OR REPLACE FUNCTION fb_compat.fb_unit(unit text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  CASE lower(unit)
    WHEN 'microsecond' THEN RETURN interval '1 microsecond';
    WHEN 'millisecond' THEN RETURN interval '1 millisecond';
    WHEN 'second' THEN RETURN interval '1 second';
    WHEN 'minute' THEN RETURN interval '1 minute';
    WHEN 'hour' THEN RETURN interval '1 hour';
    WHEN 'day' THEN RETURN interval '1 day';
    WHEN 'week' THEN RETURN interval '7 days';
    WHEN 'month' THEN RETURN interval '1 month';
    WHEN 'quarter' THEN RETURN interval '3 months';
    WHEN 'year' THEN RETURN interval '1 year';
    WHEN 'decade' THEN RETURN interval '10 years';
    WHEN 'century' THEN RETURN interval '100 years';
    WHEN 'millennium' THEN RETURN interval '1000 years';
    ELSE RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('DATE_ADD: invalid time unit %L', unit),
      HINT = 'Use one of microsecond, millisecond, second, minute, hour, day, week, month, '
             'quarter, year, decade, century, millennium.';
  END CASE;
END $$;

-- DATE_ADD('<unit>', <quantity>, <expression>)
--   https://docs.firebolt.io/sql_reference/functions-reference/date-and-time/date-add.html
--   (godocs: docs/sql_reference/functions-reference/date-and-time/date-add.md)
-- "Computes a new TIMESTAMP or TIMESTAMPTZ value by adding or subtracting a specified
-- number of time units from a DATE, TIMESTAMP, or TIMESTAMPTZ value.  It's similar to
-- arithmetic with intervals": <quantity> is an INT or BIGINT (negative subtracts); the
-- result is a TIMESTAMP for a DATE or a TIMESTAMP, a TIMESTAMPTZ for a TIMESTAMPTZ (so
-- DATE_ADD('month', -6, DATE '2021-11-04') = 2021-05-04 00:00:00).  Interval arithmetic
--   https://docs.firebolt.io/Reference/interval-arithmetic.html
-- is PostgreSQL's: month, quarter and year move the calendar month and clamp the day to
-- the month's last day (DATE_ADD('month', -1, DATE '2026-03-31') = 2026-02-28 00:00:00);
-- the quantity is one interval (2026-01-31 + 2 months = 2026-03-31, not clamped on the
-- way); a TIMESTAMPTZ moves by days and larger units in the session's time zone.
CREATE OR REPLACE FUNCTION fb_compat.date_add(unit text, quantity bigint, expr date) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT CAST(expr AS timestamp) + quantity * fb_compat.fb_unit(unit) $$;
CREATE OR REPLACE FUNCTION fb_compat.date_add(unit text, quantity bigint, expr timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT expr + quantity * fb_compat.fb_unit(unit) $$;
CREATE OR REPLACE FUNCTION fb_compat.date_add(unit text, quantity bigint, expr timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE STRICT AS $$ SELECT expr + quantity * fb_compat.fb_unit(unit) $$;

-- DATE_TRUNC(<time_unit>, <expression>) on a DATE
--   https://docs.firebolt.io/sql_reference/functions-reference/date-and-time/date-trunc.html
--   (now https://docs.firebolt.io/reference-sql/functions-reference/date-and-time/date-trunc)
-- "Return Type: DATE if <expression> has type DATE, TIMESTAMP if <expression> has type
-- TIMESTAMP, TIMESTAMPTZ if <expression> has type TIMESTAMPTZ"; "Firebolt also raises an
-- error if one attempts to truncate a value expression of type DATE to microsecond,
-- millisecond, second, minute, or hour."  PostgreSQL has no date_trunc(text, date): a date
-- becomes a timestamptz, and so is the result.  TIMESTAMP and TIMESTAMPTZ need no shim:
-- PostgreSQL's date_trunc keeps the input's type and truncates a timestamptz in the
-- session's time zone, as Firebolt does.
CREATE OR REPLACE FUNCTION fb_compat.date_trunc(unit text, expr date) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  IF lower(unit) IN ('microsecond', 'microseconds', 'millisecond', 'milliseconds', 'second', 'minute', 'hour') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('DATE_TRUNC: a DATE cannot be truncated to %L', unit),
      HINT = 'Truncate a DATE to day, week, month, quarter, year, decade, century or millennium.';
  END IF;
  RETURN CAST(pg_catalog.date_trunc(unit, CAST(expr AS timestamp)) AS date);
END $$;
"""

# PostgreSQL type OID -> Firebolt type name (anything else: text)
PG_TYPES = {16: "boolean", 20: "bigint", 21: "integer", 23: "integer", 26: "bigint", 700: "real",
            701: "double precision", 25: "text", 1043: "text", 1042: "text", 19: "text", 18: "text",
            1082: "date", 1114: "timestamp", 1184: "timestamptz", 17: "bytea"}
PG_ARRAYS = {1000: "boolean", 1016: "bigint", 1005: "integer", 1007: "integer", 1021: "real",
             1022: "double precision", 1231: "numeric(38, 9)", 1009: "text", 1015: "text", 1182: "date",
             1115: "timestamp", 1185: "timestamptz"}
PG_AS_TEXT = []   # psycopg2 typecasters that keep PostgreSQL's own text (pg_setup)


def first_line(e):
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def pg_setup():
    """Warehouse mode's startup: typecasters and the shims.  A failure is fatal."""
    raw = lambda value, cur: value  # noqa: E731
    # date, timestamp, timestamptz, numeric, interval, json, jsonb, and their arrays: as text
    PG_AS_TEXT.append(psycopg2.extensions.new_type((1082, 1114, 1184, 1700, 1186, 114, 3802), "FB_TEXT", raw))
    PG_AS_TEXT.append(psycopg2.extensions.new_array_type((1182, 1115, 1185, 1231), "FB_TEXT_ARRAY", PG_AS_TEXT[0]))
    conn = psycopg2.connect(PG_DSN)
    try:
        with conn.cursor() as cur:
            cur.execute(FIREBOLT_SHIMS)
        conn.commit()
    finally:
        conn.close()


def pg_connect():
    conn = psycopg2.connect(PG_DSN, options="-c search_path=fb_compat,public -c TimeZone=UTC "
                                            "-c DateStyle=ISO,YMD -c IntervalStyle=postgres "
                                            "-c default_transaction_read_only=on")
    conn.set_client_encoding("UTF8")
    for t in PG_AS_TEXT:
        psycopg2.extensions.register_type(t, conn)
    return conn


def pg_meta(conn, description):
    """cursor.description -> Firebolt's meta, " null" on nullable columns."""
    notnull = {}
    cols = [(d.table_oid, d.table_column) for d in description if d.table_oid]
    if cols:
        with conn.cursor() as cur:
            cur.execute("SELECT attrelid, attnum, attnotnull FROM pg_attribute WHERE (attrelid, attnum) IN %s",
                        (tuple(cols),))
            notnull = {(r[0], r[1]): r[2] for r in cur.fetchall()}
    meta = []
    for d in description:
        oid = d.type_code
        if oid == 1700:
            t = "numeric(%d, %d)" % (d.precision, d.scale) if d.precision else "numeric(38, 9)"
        elif oid in PG_ARRAYS:
            t = "array(%s)" % PG_ARRAYS[oid]
        else:
            t = PG_TYPES.get(oid, "text")
        nullable = not notnull.get((d.table_oid, d.table_column), False)
        meta.append({"name": d.name, "type": t + (" null" if nullable else "")})
    return meta


def fb_value(v):
    """One PostgreSQL value as Firebolt's JSON_Compact writes it."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if -(1 << 53) <= v <= (1 << 53) else str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, (bytes, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, list):
        return [fb_value(x) for x in v]
    return str(v)


# ------------------------------------------------------------- SQLite mode --
SQLITE_PATH = os.environ.get("FB_SQLITE", "")
RECORD = os.environ.get("FB_RECORD", "")
SQLITE_LOCK = threading.Lock()
_sqlite = []


class FbSqlError(Exception):
    def __init__(self, desc, name="SYNTAX_ERROR", code="1100", pos=0, status=400, resolution=None):
        super().__init__(desc)
        self.desc, self.name, self.code, self.pos, self.status = desc, name, code, pos, status
        self.resolution = resolution or "Check the query and try again."


FB_TYPES = {"text": "TEXT", "string": "TEXT", "varchar": "TEXT", "integer": "INTEGER", "int": "INTEGER",
            "int4": "INTEGER", "bigint": "BIGINT", "long": "BIGINT", "int8": "BIGINT", "double": "DOUBLE PRECISION",
            "float8": "DOUBLE PRECISION", "float": "DOUBLE PRECISION", "real": "REAL", "float4": "REAL",
            "boolean": "BOOLEAN", "bool": "BOOLEAN", "date": "DATE", "pgdate": "DATE", "timestamp": "TIMESTAMP",
            "timestampntz": "TIMESTAMP"}
META_NAMES = {"TEXT": "text", "INTEGER": "integer", "BIGINT": "bigint", "DOUBLE PRECISION": "double precision",
              "REAL": "real", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp"}
TS_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?)?")


def fb_tokens(sql, standard):
    """(kind, value, pos): str, num, id (lower-cased), qid, p (punctuation)."""
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif ch == "'":
            start, i, val = i, i + 1, []
            while True:
                if i >= n:
                    raise FbSqlError("unterminated string literal", pos=start)
                c = sql[i]
                if c == "'":
                    if i + 1 < n and sql[i + 1] == "'":
                        val.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                if c == "\\" and not standard and i + 1 < n:
                    val.append({"n": "\n", "t": "\t", "r": "\r"}.get(sql[i + 1], sql[i + 1]))
                    i += 2
                    continue
                val.append(c)
                i += 1
            text = "".join(val)
            if "\0" in text:
                raise FbSqlError("null bytes are not supported in TEXT literals", "INVALID_INPUT", "1001", start)
            out.append(("str", text, start))
        elif ch == '"':
            j = sql.find('"', i + 1)
            if j < 0:
                raise FbSqlError("unterminated quoted identifier", pos=i)
            out.append(("qid", sql[i + 1:j], i))
            i = j + 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = re.compile(r"\d*\.?\d*(?:[eE][-+]?\d+)?").match(sql, i)
            out.append(("num", m.group(0), i))
            i = m.end()
        elif ch.isalpha() or ch == "_":
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*").match(sql, i)
            out.append(("id", m.group(0).lower(), i))
            i = m.end()
        elif ch in "(),;*=-.":
            out.append(("p", ch, i))
            i += 1
        else:
            raise FbSqlError("syntax error at or near \"%s\"" % ch, pos=i)
    return out


class Parser:
    def __init__(self, toks, end):
        self.t, self.i, self.end = toks, 0, end

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else ("eof", None, self.end)

    def pos(self):
        return self.peek()[2]

    def word(self, *words):
        k, v, _ = self.peek()
        if k == "id" and v in words:
            self.i += 1
            return v
        return None

    def expect_word(self, *words):
        w = self.word(*words)
        if not w:
            raise FbSqlError("syntax error at or near \"%s\": expected %s" % (self.peek()[1] or "end of input",
                                                                           " or ".join(w.upper() for w in words)),
                             pos=self.pos())
        return w

    def punct(self, ch):
        k, v, _ = self.peek()
        if k == "p" and v == ch:
            self.i += 1
            return True
        return False

    def expect_punct(self, ch):
        if not self.punct(ch):
            raise FbSqlError("syntax error at or near \"%s\": expected \"%s\"" % (self.peek()[1] or "end of input", ch),
                             pos=self.pos())

    def name(self):
        k, v, p = self.peek()
        if k in ("id", "qid"):
            self.i += 1
            return v
        raise FbSqlError("syntax error at or near \"%s\": expected a name" % (v or "end of input"), pos=p)

    def done(self):
        self.punct(";")
        if self.peek()[0] != "eof":
            raise FbSqlError("syntax error at or near \"%s\": one statement per request" % self.peek()[1],
                             pos=self.pos())

    def literal(self):
        """(type, value): str, int, float, null, bool, timestamp, date."""
        k, v, p = self.peek()
        neg = False
        if k == "p" and v == "-":
            self.i += 1
            neg = True
            k, v, p = self.peek()
            if k != "num":
                raise FbSqlError("syntax error at or near \"-\"", pos=p)
        if k == "num":
            self.i += 1
            if re.fullmatch(r"\d+", v):
                return ("int", -int(v) if neg else int(v), p)
            return ("float", -float(v) if neg else float(v), p)
        if k == "str":
            self.i += 1
            return ("str", v, p)
        if k == "id" and v in ("null", "true", "false"):
            self.i += 1
            return ("null", None, p) if v == "null" else ("bool", v == "true", p)
        if k == "id" and v in ("timestamp", "date") and self.peek(1)[0] == "str":
            self.i += 2
            return (v, self.t[self.i - 1][1], p)
        raise FbSqlError("syntax error at or near \"%s\": expected a literal" % (v or "end of input"), pos=p)


def sqlite_db():
    if not _sqlite:
        db = sqlite3.connect(SQLITE_PATH, check_same_thread=False, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS _fb_columns (tbl TEXT, pos INTEGER, col TEXT, type TEXT, "
                   "nullable INTEGER, PRIMARY KEY (tbl, pos))")
        _sqlite.append(db)
    return _sqlite[0]


def catalog(db, table):
    return [(c, t, bool(nl)) for c, t, nl in
            db.execute("SELECT col, type, nullable FROM _fb_columns WHERE tbl = ? ORDER BY pos", (table,))]


def coerce(lit, col, ctype, nullable):
    kind, v, p = lit
    if kind == "null":
        if not nullable:
            raise FbSqlError("null mismatch: NULL inserted into column '%s', which is NOT NULL" % col,
                             "NULL_MISMATCH", "1106", p)
        return None
    bad = FbSqlError("type mismatch: column '%s' is %s, the value is %s" % (col, ctype, kind), "TYPE_MISMATCH",
                     "1105", p)
    if ctype == "TEXT":
        if kind != "str":
            raise bad
        return v
    if ctype in ("INTEGER", "BIGINT"):
        if kind != "int":
            raise bad
        if ctype == "INTEGER" and not -2**31 <= v < 2**31:
            raise FbSqlError("value %d out of range for INTEGER column '%s'" % (v, col), "TYPE_MISMATCH", "1105", p)
        return v
    if ctype in ("DOUBLE PRECISION", "REAL"):
        if kind not in ("int", "float"):
            raise bad
        return float(v)
    if ctype == "BOOLEAN":
        if kind != "bool":
            raise bad
        return 1 if v else 0
    if ctype in ("TIMESTAMP", "DATE"):
        if kind not in ("str", "timestamp", "date"):
            raise bad
        m = TS_RE.fullmatch(v.strip())
        try:
            ok = m is not None and datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                                                     int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0))
        except ValueError:
            ok = False
        if not ok:
            raise FbSqlError("invalid %s value '%s' for column '%s'" % (ctype, v, col), "TYPE_MISMATCH", "1105", p)
        if ctype == "DATE":
            return "%s-%s-%s" % m.group(1, 2, 3)
        return "%s-%s-%s %s:%s:%s%s" % (m.group(1), m.group(2), m.group(3), m.group(4) or "00", m.group(5) or "00",
                                        m.group(6) or "00", m.group(7) or "")
    raise bad


def fb_sqlite_execute(sql, standard, readonly=False):
    """One statement; None for no result set, else (meta, data)."""
    ps = Parser(fb_tokens(sql, standard), len(sql))
    db = sqlite_db()
    verb = ps.expect_word("create", "insert", "select")
    if verb in ("create", "insert") and readonly:
        raise FbSqlError("permission denied: the role of this service account's user lacks the %s privilege "
                         "in database" % verb.upper(), "PERMISSION_DENIED", "1107", 0, status=403,
                         resolution="Grant the privilege to the user's role, or use another account.")
    if verb == "create":
        ps.word("fact", "dimension")
        ps.expect_word("table")
        if_not_exists = False
        if ps.word("if"):
            ps.expect_word("not")
            ps.expect_word("exists")
            if_not_exists = True
        tpos = ps.pos()
        table = ps.name()
        ps.expect_punct("(")
        cols = []
        while True:
            cpos = ps.pos()
            col = ps.name()
            k, t, tp = ps.peek()
            if k != "id" or t not in FB_TYPES:
                raise FbSqlError("unknown data type \"%s\"" % (t or "end of input"), pos=tp)
            ps.i += 1
            ctype = FB_TYPES[t]
            if t == "double":
                ps.word("precision")
            nullable = False
            if ps.word("null"):
                nullable = True
            elif ps.word("not"):
                ps.expect_word("null")
            if any(c[0] == col for c in cols):
                raise FbSqlError("column \"%s\" specified more than once" % col, pos=cpos)
            cols.append((col, ctype, nullable))
            if ps.punct(")"):
                break
            ps.expect_punct(",")
        if ps.word("primary"):
            ps.expect_word("index")
            while True:
                ipos = ps.pos()
                ic = ps.name()
                found = [c for c in cols if c[0] == ic]
                if not found:
                    raise FbSqlError("primary index column \"%s\" is not a column of the table" % ic,
                                     "COLUMN_NOT_FOUND", "1102", ipos)
                if found[0][2]:
                    raise FbSqlError("nullable column \"%s\" cannot be used in a primary index" % ic, pos=ipos)
                if not ps.punct(","):
                    break
        ps.done()
        if catalog(db, table):
            if if_not_exists:
                return None
            raise FbSqlError("relation \"%s\" already exists" % table, "RELATION_EXISTS", "1104", tpos)
        affinity = {"TEXT": "TEXT", "INTEGER": "INTEGER", "BIGINT": "INTEGER", "DOUBLE PRECISION": "REAL",
                    "REAL": "REAL", "BOOLEAN": "INTEGER", "DATE": "TEXT", "TIMESTAMP": "TEXT"}
        db.execute("BEGIN")
        db.execute("CREATE TABLE \"%s\" (%s)" % (table.replace('"', '""'), ", ".join(
            "\"%s\" %s" % (c.replace('"', '""'), affinity[t]) for c, t, _ in cols)))
        db.executemany("INSERT INTO _fb_columns VALUES (?, ?, ?, ?, ?)",
                       [(table, k, c, t, int(nl)) for k, (c, t, nl) in enumerate(cols)])
        db.execute("COMMIT")
        return None
    if verb == "insert":
        ps.expect_word("into")
        tpos = ps.pos()
        table = ps.name()
        cat = catalog(db, table)
        if not cat:
            raise FbSqlError("relation \"%s\" does not exist" % table, "RELATION_NOT_FOUND", "1101", tpos,
                             resolution="Check the table name and the database.")
        names = [c for c, _, _ in cat]
        cols = names
        if ps.punct("("):
            cols = []
            while True:
                cpos = ps.pos()
                c = ps.name()
                if c not in names:
                    raise FbSqlError("column \"%s\" does not exist in table \"%s\"" % (c, table), "COLUMN_NOT_FOUND",
                                     "1102", cpos)
                cols.append(c)
                if ps.punct(")"):
                    break
                ps.expect_punct(",")
        ps.expect_word("values")
        types = {c: (t, nl) for c, t, nl in cat}
        for c, t, nl in cat:
            if c not in cols and not nl:
                raise FbSqlError("null mismatch: column '%s' is NOT NULL and has no value" % c, "NULL_MISMATCH",
                                 "1106", tpos)
        rows = []
        while True:
            rpos = ps.pos()
            ps.expect_punct("(")
            vals = []
            while True:
                vals.append(ps.literal())
                if ps.punct(")"):
                    break
                ps.expect_punct(",")
            if len(vals) != len(cols):
                raise FbSqlError("INSERT has %d values for %d columns" % (len(vals), len(cols)), pos=rpos)
            rows.append([coerce(v, c, *types[c]) for v, c in zip(vals, cols)])
            if not ps.punct(","):
                break
        ps.done()
        db.execute("BEGIN")
        db.executemany("INSERT INTO \"%s\" (%s) VALUES (%s)" % (table.replace('"', '""'), ", ".join(
            "\"%s\"" % c.replace('"', '""') for c in cols), ", ".join("?" for _ in cols)), rows)
        db.execute("COMMIT")
        return None
    # SELECT
    sel = []
    if not ps.punct("*"):
        while True:
            sel.append((ps.pos(), ps.name()))
            if not ps.punct(","):
                break
    ps.expect_word("from")
    tpos = ps.pos()
    table = ps.name()
    cat = catalog(db, table)
    if not cat:
        raise FbSqlError("relation \"%s\" does not exist" % table, "RELATION_NOT_FOUND", "1101", tpos,
                         resolution="Check the table name and the database.")
    types = {c: (t, nl) for c, t, nl in cat}
    for p, c in sel:
        if c not in types:
            raise FbSqlError("column \"%s\" does not exist" % c, "COLUMN_NOT_FOUND", "1102", p)
    cols = [c for _, c in sel] or [c for c, _, _ in cat]
    where, args, order = "", [], ""
    if ps.word("where"):
        wpos = ps.pos()
        wc = ps.name()
        if wc not in types:
            raise FbSqlError("column \"%s\" does not exist" % wc, "COLUMN_NOT_FOUND", "1102", wpos)
        ps.expect_word("in")
        ps.expect_punct("(")
        while True:
            args.append(coerce(ps.literal(), wc, types[wc][0], True))
            if ps.punct(")"):
                break
            ps.expect_punct(",")
        where = " WHERE \"%s\" IN (%s)" % (wc, ", ".join("?" for _ in args))
    if ps.word("order"):
        ps.expect_word("by")
        opos = ps.pos()
        oc = ps.name()
        if oc not in types:
            raise FbSqlError("column \"%s\" does not exist" % oc, "COLUMN_NOT_FOUND", "1102", opos)
        order = " ORDER BY \"%s\" %s" % (oc, (ps.word("asc", "desc") or "asc").upper())
    ps.done()
    data = []
    for row in db.execute("SELECT %s FROM \"%s\"%s%s" % (", ".join("\"%s\"" % c for c in cols), table, where, order),
                          args):
        data.append([(bool(v) if v is not None and types[c][0] == "BOOLEAN" else v) for v, c in zip(row, cols)])
    meta = [{"name": c, "type": META_NAMES[types[c][0]] + (" null" if types[c][1] else "")} for c in cols]
    return meta, data


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up (timeouts, a stopped transfer) is not news


def main():
    if PG_DSN:
        try:
            pg_setup()
        except Exception as e:  # noqa: BLE001  warehouse mode is useless without it
            print("fake_firebolt: warehouse mode: cannot prepare PostgreSQL (%s): %s" % (PG_DSN, e), file=sys.stderr)
            sys.exit(1)
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
