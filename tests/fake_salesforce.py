#!/usr/bin/python3
"""A fake Salesforce for the salesforce source's tests: the OAuth token
endpoint, the REST query resource and its nextRecordsUrl pages, on one
loopback port.

Written from Salesforce's public documentation:
  - OAuth 2.0 Client Credentials Flow for Server-to-Server Integration
    https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm
    (POST /services/oauth2/token, grant_type=client_credentials, client_id,
    client_secret -> access_token, signature, instance_url, id, token_type
    Bearer, issued_at; no expires_in), and the same exchange in
    https://developer.salesforce.com/docs/atlas.en-us.chatterapi.meta/chatterapi/quickstart_connecting.htm
  - OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration
    https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_jwt_flow.htm
    (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion = a JWT
    with header {"alg":"RS256"}, claims iss = the consumer key, sub = the
    username, aud = the login URL, exp; signed RSA-SHA256)
  - OAuth 2.0 token errors: {"error", "error_description"}, e.g. invalid_grant
    "Audience validation failed"
    https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_flow_errors.htm
  - REST API Developer Guide, Query and Execute a SOQL Query
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm
    (GET /services/data/vXX.X/query?q=SOQL -> totalSize, done, nextRecordsUrl
    "/services/data/vXX.X/query/01gD0000002HU6KIAW-2000", records with
    attributes {type, url}; follow nextRecordsUrl, no parameters, until done)
  - Query Options Header: Sforce-Query-Options: batchSize=N, 200..2000, default 2000
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_queryoptions.htm
  - Status Codes and Error Responses: an array of {"message", "errorCode",
    "fields"}; 401 INVALID_SESSION_ID "Session expired or invalid"; 403
    REQUEST_LIMIT_EXCEEDED; 400 MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm

Deviations, needed on loopback: instance_url is http://localhost:<port> (the
login URL the tests give is http://127.0.0.1:<port>, so the fake can tell that
the API is called on the instance_url of the token response, as it must be).

Routes:
  POST /services/oauth2/token       client credentials or JWT bearer (above)
  GET  /services/data/vNN.N/query?q=SOQL
  GET  /services/data/vNN.N/query/<locator>-<offset>      the next batch
SOQL understood: SELECT f, g, Rel.f | COUNT() FROM Opportunity|Account [WHERE c AND c ...]
  [ORDER BY f [ASC|DESC], ...] [LIMIT n]; conditions `field op literal`, op one of
  = != < <= > >= LIKE, literals 'text' (backslash escapes), numbers, true, false,
  null, dates YYYY-MM-DD.  Anything else: 400 MALFORMED_QUERY; unknown field
  400 INVALID_FIELD; unknown object 400 INVALID_TYPE, with Salesforce's wording.
Data: SF_OPPORTUNITIES opportunities (default 4500; Id "006" + 15 digits, in Id
  order; Amount null every 50th, no account every 97th) and SF_ACCOUNTS accounts
  (default 40).
Control (tests only):
  GET /_fake/stats                  counters, SOQL received, batch sizes, tokens issued
  GET /_fake/fault?kind=K&times=T&page=P   T times (-1: always) on page P (0: any page)
      K: 429 503 500 timeout truncate malformed wrongtype wrongtype_first done_string
         expired always401 limit malformed_query bad_next token503 none
  GET /_fake/reset                  counters and faults to zero (tokens stay valid)
Environment: SF_CLIENT_ID, SF_CLIENT_SECRET, SF_USERNAME, SF_OPPORTUNITIES,
  SF_ACCOUNTS, SF_SLEEP (seconds the timeout fault waits, default 3),
  SF_JWT_PUBKEY (PEM public key: JWT signatures are verified with `openssl dgst`).
Prints "PORT <n>" once it listens; exits when its stdin closes.
"""
import base64
import datetime
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = os.environ.get("SF_CLIENT_ID", "3MVG9fakeConsumerKey0001")
CLIENT_SECRET = os.environ.get("SF_CLIENT_SECRET", "fakeConsumerSecret0001")
USERNAME = os.environ.get("SF_USERNAME", "integration@acme.example")
N_OPPS = int(os.environ.get("SF_OPPORTUNITIES", "4500"))
N_ACCOUNTS = int(os.environ.get("SF_ACCOUNTS", "40"))
SLEEP = float(os.environ.get("SF_SLEEP", "3"))
JWT_PUBKEY = os.environ.get("SF_JWT_PUBKEY")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG_ID = "00D5e000000FAKEEAA"
USER_ID = "0055e000000FAKEAAA"

lock = threading.Lock()
valid_tokens = set()
issued = []
locators = {}            # locator -> (version, records, batch size)
results = {}             # (version, SOQL) -> records, shaped
stats = {}
fault = {"kind": "none", "times": 0, "page": 0}
PORT = 0


def reset_stats():
    stats.clear()
    stats.update(token_requests=0, tokens_issued=0, query_requests=0, pages=[], soql=[], batch_sizes=[],
                 bad_host=0, auth_failures=0, jwt_claims=None)


reset_stats()

# ------------------------------------------------------------------ data --

STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
          "Negotiation/Review", "Closed Won", "Closed Lost"]
INDUSTRIES = ["Technology", "Finance", "Healthcare", "Retail", "Manufacturing"]
COUNTRIES = ["USA", "Germany", "France", "Japan", "Brazil"]


def sf_id(prefix, n):
    return "%s%015d" % (prefix, n)


def sf_datetime(day, seconds):
    t = datetime.datetime(2024, 1, 1) + datetime.timedelta(days=day, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


ACCOUNTS = []
for i in range(N_ACCOUNTS):
    ACCOUNTS.append({
        "Id": sf_id("001", i + 1),
        "Name": "Account %03d %s" % (i + 1, ["Ltd", "Inc", "GmbH", "SA"][i % 4]),
        "Type": "Customer" if i % 3 else "Prospect",
        "Industry": INDUSTRIES[i % len(INDUSTRIES)],
        "BillingCountry": COUNTRIES[i % len(COUNTRIES)],
        "AnnualRevenue": None if i % 11 == 5 else float(1000000 * (i + 1)),
        "NumberOfEmployees": 10 * (i + 1),
        "OwnerId": sf_id("005", i % 5 + 1),
        "CreatedDate": sf_datetime(i, 3600 + i),
    })

OPPS = []
for i in range(N_OPPS):
    acct = None if i % 97 == 96 else ACCOUNTS[i % len(ACCOUNTS)]
    stage = STAGES[i % len(STAGES)]
    OPPS.append({
        "Id": sf_id("006", i + 1),
        "Name": "Opportunity %05d" % (i + 1),
        "AccountId": acct["Id"] if acct else None,
        "Account": acct,
        "StageName": stage,
        "Amount": None if i % 50 == 49 else float(1000 + (i * 37) % 90000) + (0.5 if i % 4 == 1 else 0.0),
        "Probability": float((i * 13) % 101),
        "CloseDate": (datetime.date(2025, 1, 1) + datetime.timedelta(days=i % 700)).isoformat(),
        "Type": ["New Business", "Renewal", "Existing Business - Upgrade"][i % 3],
        "IsClosed": stage.startswith("Closed"),
        "IsWon": stage == "Closed Won",
        "OwnerId": sf_id("005", i % 5 + 1),
        "CreatedDate": sf_datetime(i % 300, i),
        "LastModifiedDate": sf_datetime(i % 300 + 30, i),
    })

OBJECTS = {"opportunity": ("Opportunity", "006", OPPS), "account": ("Account", "001", ACCOUNTS)}
RELATIONS = {("opportunity", "account"): "account"}

# ------------------------------------------------------------------ SOQL --


class SoqlError(Exception):
    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


TOKEN_RE = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[,()*])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  )""", re.X)


def tokenize(soql):
    pos, out = 0, []
    while pos < len(soql):
        if soql[pos:].strip() == "":
            break
        m = TOKEN_RE.match(soql, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", caret(soql, pos, "unexpected token: '%s'" % soql[pos:].split()[0]))
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def caret(soql, pos, text):
    """Salesforce's MALFORMED_QUERY layout: the query, a caret, the position."""
    line = soql.replace("\n", " ")
    return "\n%s\n%s^\nERROR at Row:1:Column:%d\n%s" % (line, " " * pos, pos + 1, text)


def unquote(s):
    body, out, i = s[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            # \% and \_ stay escaped: LIKE reads them as a literal % and _
            out.append("\\" + nxt if nxt in "%_" else {"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def parse_soql(soql):
    toks = tokenize(soql)
    i = 0

    def peek(k=0):
        return toks[i + k] if i + k < len(toks) else (None, None, len(soql))

    def kw(word):
        t = peek()
        return t[0] == "ident" and t[1].upper() == word

    def expect_kw(word):
        nonlocal i
        if not kw(word):
            t = peek()
            raise SoqlError("MALFORMED_QUERY", caret(soql, t[2], "unexpected token: '%s'" % (t[1] or "<end>")))
        i += 1

    expect_kw("SELECT")
    fields = []
    if kw("COUNT") and peek(1)[1] == "(" and peek(2)[1] == ")":
        fields = None      # COUNT(): totalSize only, no records
        i += 3
    while fields is not None:
        t = peek()
        if t[0] != "ident" or t[1].upper() == "FROM":
            raise SoqlError("MALFORMED_QUERY", caret(soql, t[2], "unexpected token: '%s'" % (t[1] or "<end>")))
        fields.append((t[1], t[2]))
        i += 1
        if peek()[0] == "punct" and peek()[1] == ",":
            i += 1
            continue
        break
    expect_kw("FROM")
    t = peek()
    if t[0] != "ident":
        raise SoqlError("MALFORMED_QUERY", caret(soql, t[2], "unexpected token: '%s'" % (t[1] or "<end>")))
    obj, obj_pos = t[1], t[2]
    i += 1
    where, order, limit = [], [], None
    if kw("WHERE"):
        i += 1
        while True:
            f, op, lit = peek(), peek(1), peek(2)
            if f[0] != "ident" or not ((op[0] == "op") or (op[0] == "ident" and op[1].upper() == "LIKE")) \
                    or lit[0] not in ("str", "num", "date", "ident"):
                raise SoqlError("MALFORMED_QUERY", caret(soql, f[2], "unexpected token: '%s'" % (f[1] or "<end>")))
            if lit[0] == "str":
                value = unquote(lit[1])
            elif lit[0] == "num":
                value = float(lit[1])
            elif lit[0] == "date":
                value = lit[1]
            elif lit[1].lower() in ("true", "false", "null"):
                value = {"true": True, "false": False, "null": None}[lit[1].lower()]
            else:
                raise SoqlError("MALFORMED_QUERY", caret(soql, lit[2], "unexpected token: '%s'" % lit[1]))
            where.append((f[1], f[2], op[1].upper(), value))
            i += 3
            if kw("AND"):
                i += 1
                continue
            break
    if kw("ORDER"):
        i += 1
        expect_kw("BY")
        while True:
            f = peek()
            if f[0] != "ident":
                raise SoqlError("MALFORMED_QUERY", caret(soql, f[2], "unexpected token: '%s'" % (f[1] or "<end>")))
            i += 1
            desc = False
            if kw("ASC") or kw("DESC"):
                desc = peek()[1].upper() == "DESC"
                i += 1
            order.append((f[1], f[2], desc))
            if peek()[0] == "punct" and peek()[1] == ",":
                i += 1
                continue
            break
    if kw("LIMIT"):
        i += 1
        t = peek()
        if t[0] != "num":
            raise SoqlError("MALFORMED_QUERY", caret(soql, t[2], "unexpected token: '%s'" % (t[1] or "<end>")))
        limit = int(float(t[1]))
        i += 1
    if i != len(toks):
        t = peek()
        raise SoqlError("MALFORMED_QUERY", caret(soql, t[2], "unexpected token: '%s'" % t[1]))
    return fields, (obj, obj_pos), where, order, limit


def resolve(soql, obj_key, path, pos):
    """'account.name' on opportunity -> ('Account', 'Name'); INVALID_FIELD otherwise."""
    obj_name, _, rows = OBJECTS[obj_key]
    parts = path.split(".")
    if len(parts) == 1:
        for k in rows[0].keys() if rows else []:
            if k.lower() == parts[0].lower() and k not in ("Account",):
                return (k,)
    elif len(parts) == 2 and (obj_key, parts[0].lower()) in RELATIONS:
        rel = RELATIONS[(obj_key, parts[0].lower())]
        for k in OBJECTS[rel][2][0].keys():
            if k.lower() == parts[1].lower():
                return ("Account", k)
    raise SoqlError("INVALID_FIELD", caret(soql, pos, (
        "No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the "
        "'__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate "
        "names.") % (path, obj_name)))


def value_of(rec, path):
    v = rec
    for p in path:
        if v is None:
            return None
        v = v.get(p)
    return v


def like(value, pattern):
    rx, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            rx += re.escape(pattern[i + 1])
            i += 2
            continue
        rx += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return value is not None and re.fullmatch(rx, str(value), re.I | re.S) is not None


def matches(rec, conds):
    for path, op, want in conds:
        v = value_of(rec, path)
        if op == "LIKE":
            if not like(v, want):
                return False
            continue
        if op in ("=", "!="):
            eq = (v == want) if not (isinstance(v, str) and isinstance(want, str)) else v.lower() == want.lower()
            if eq != (op == "="):
                return False
            continue
        if v is None or want is None:
            return False
        a, b = v, want
        if isinstance(a, str) and isinstance(b, str):
            a, b = a[:10] if len(b) == 10 else a, b
        try:
            if not {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "<>": a != b}[op]:
                return False
        except TypeError:
            return False
    return True


def run_soql(soql):
    fields, (obj, obj_pos), where, order, limit = parse_soql(soql)
    obj_key = obj.lower()
    if obj_key not in OBJECTS:
        raise SoqlError("INVALID_TYPE", caret(soql, obj_pos, (
            "sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append "
            "the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate "
            "names.") % obj))
    obj_name, _, rows = OBJECTS[obj_key]
    paths = None if fields is None else [resolve(soql, obj_key, f, pos) for f, pos in fields]
    conds = [(resolve(soql, obj_key, f, pos), op, v) for f, pos, op, v in where]
    keys = [(resolve(soql, obj_key, f, pos), desc) for f, pos, desc in order]
    out = [r for r in rows if matches(r, conds)]
    for path, desc in reversed(keys):
        # SOQL: ASC puts nulls first, DESC puts them last.
        out.sort(key=lambda r, p=path: (value_of(r, p) is not None, value_of(r, p) if value_of(r, p) is not None else 0),
                 reverse=desc)
    if limit is not None:
        out = out[:limit]
    return obj_name, paths, out


def shape(version, obj_name, paths, rec):
    """A record as the REST API writes it: attributes, then the select list in order."""
    o = {"attributes": {"type": obj_name, "url": "/services/data/%s/sobjects/%s/%s" % (version, obj_name, rec["Id"])}}
    for p in paths:
        if len(p) == 1:
            o[p[0]] = rec[p[0]]
        else:
            rel = rec.get(p[0])
            if rel is None:
                o[p[0]] = None
                continue
            sub = o.get(p[0])
            if sub is None:
                sub = {"attributes": {"type": "Account",
                                      "url": "/services/data/%s/sobjects/Account/%s" % (version, rel["Id"])}}
                o[p[0]] = sub
            sub[p[1]] = rel[p[1]]
    return o


# ---------------------------------------------------------------- server --

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def take_fault(page):
    """The active fault if it applies to this page (-1: the token endpoint),
    counting it down."""
    with lock:
        if fault["kind"] == "none" or fault["times"] == 0:
            return None
        if (page == -1) != (fault["kind"].startswith("token")):
            return None
        if page != -1 and fault["page"] and fault["page"] != page:
            return None
        if fault["times"] > 0:
            fault["times"] -= 1
        return fault["kind"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def sf_error(self, status, code, message, headers=None):
        self.send(status, [{"message": message, "errorCode": code, "fields": []}], headers)

    # ---- token endpoint
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        path = self.path.split("?")[0]
        if path == "/services/oauth2/token":
            return self.token(body)
        self.sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def token(self, body):
        with lock:
            stats["token_requests"] += 1
        if take_fault(-1) == "token503":
            return self.send(503, {"error": "server_unavailable", "error_description": "try later"},
                             {"Retry-After": "1"})
        if not (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return self.send(400, {"error": "invalid_request", "error_description": "must use x-www-form-urlencoded"})
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if form.get("client_id") != CLIENT_ID:
                return self.send(400, {"error": "invalid_client_id", "error_description": "client identifier invalid"})
            if form.get("client_secret") != CLIENT_SECRET:
                return self.send(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        elif grant == JWT_GRANT:
            why = self.check_jwt(form.get("assertion", ""))
            if why:
                return self.send(400, {"error": "invalid_grant", "error_description": why})
        else:
            return self.send(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        tok = "%s!AQ%s" % (ORG_ID, secrets.token_urlsafe(40))
        with lock:
            valid_tokens.add(tok)
            issued.append(tok)
            stats["tokens_issued"] += 1
        self.send(200, {
            "access_token": tok,
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            "instance_url": "http://localhost:%d" % PORT,
            "id": "http://127.0.0.1:%d/id/%s/%s" % (PORT, ORG_ID, USER_ID),
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
        })

    def check_jwt(self, assertion):
        parts = assertion.split(".")
        if len(parts) != 3 or not all(parts):
            return "invalid assertion"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            return "invalid assertion"
        with lock:
            stats["jwt_claims"] = claims
        if header.get("alg") != "RS256":
            return "invalid assertion: alg must be RS256"
        if claims.get("iss") != CLIENT_ID:
            return "invalid_client_id"
        if claims.get("aud") != "http://127.0.0.1:%d" % PORT:
            return "Audience validation failed"
        if claims.get("sub") != USERNAME:
            return "user hasn't approved this consumer"
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < time.time() or exp > time.time() + 180 + 5:
            return "expired authorization code"
        if JWT_PUBKEY:
            with tempfile.NamedTemporaryFile() as s, tempfile.NamedTemporaryFile() as d:
                s.write(sig)
                s.flush()
                d.write(("%s.%s" % (parts[0], parts[1])).encode())
                d.flush()
                r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", JWT_PUBKEY, "-signature", s.name, d.name],
                                   capture_output=True)
                if r.returncode != 0:
                    return "invalid assertion: signature verification failed"
        return None

    # ---- REST API
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/_fake/"):
            return self.control(u)
        m = re.fullmatch(r"/services/data/(v\d+\.\d+)/query(?:/([A-Za-z0-9]+)-(\d+))?/?", u.path)
        if not m:
            return self.sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if self.headers.get("Host") != "localhost:%d" % PORT:
            with lock:
                stats["bad_host"] += 1
            return self.sf_error(404, "NOT_FOUND", "the API is served on the instance_url, not the login URL")
        version, locator, offset = m.group(1), m.group(2), m.group(3)
        with lock:
            stats["query_requests"] += 1
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in valid_tokens:
            with lock:
                stats["auth_failures"] += 1
            return self.sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        bs = 2000
        opts = self.headers.get("Sforce-Query-Options", "")
        mm = re.search(r"batchSize=(\d+)", opts)
        if mm:
            bs = min(2000, max(200, int(mm.group(1))))
        with lock:
            stats["batch_sizes"].append(opts)
        if locator is None:
            q = urllib.parse.parse_qs(u.query).get("q")
            if not q:
                return self.sf_error(400, "MALFORMED_QUERY", "q: query string is required")
            soql = q[0]
            with lock:
                stats["soql"].append(soql)
            with lock:
                records = results.get((version, soql))
            if records is None:
                try:
                    obj_name, paths, records = run_soql(soql)
                except SoqlError as e:
                    return self.sf_error(400, e.code, e.message)
                if paths is None:    # COUNT(): the count, no records
                    records = (len(records),)
                else:
                    records = [shape(version, obj_name, paths, r) for r in records]
                with lock:
                    results[(version, soql)] = records   # the data never changes: answer the same SOQL from here
            locator = "01gFAKE%06d" % len(locators)
            with lock:
                locators[locator] = (version, records, bs)
            start = 0
        else:
            with lock:
                entry = locators.get(locator)
            if not entry or entry[0] != version:
                return self.sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            records, bs = entry[1], entry[2]
            start = int(offset)
            if start >= len(records):
                return self.sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        if isinstance(records, tuple):
            return self.send(200, {"totalSize": records[0], "done": True, "records": []})
        page = start // bs + 1
        kind = take_fault(page)
        with lock:
            stats["pages"].append(page)
        end = min(start + bs, len(records))
        done = end >= len(records)
        batch = records[start:end]
        next_url = None if done else "/services/data/%s/query/%s-%d" % (version, locator, end)
        if kind in ("429", "503"):
            return self.sf_error(int(kind), "REQUEST_LIMIT_EXCEEDED" if kind == "429" else "SERVER_UNAVAILABLE",
                                 "Too many requests; try again later" if kind == "429"
                                 else "Service temporarily unavailable", {"Retry-After": "1"})
        if kind == "500":
            return self.sf_error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this "
                                 "ErrorId if you contact support: 1234567890-12345 (-1234567890)")
        if kind == "timeout":
            time.sleep(SLEEP)
        if kind in ("expired", "always401"):
            if kind == "expired":
                with lock:
                    valid_tokens.clear()   # the session ended: every token issued so far is dead
            return self.sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if kind == "limit":
            return self.sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if kind == "malformed_query":
            return self.sf_error(400, "MALFORMED_QUERY", caret(stats["soql"][-1] if stats["soql"] else "", 7,
                                                              "unexpected token: 'FRM'"))
        if kind == "bad_next" and not done:
            next_url = "http://evil.example:%d/services/data/%s/query/%s-%d" % (PORT, version, locator, end)
        if kind in ("wrongtype", "wrongtype_first") and batch:
            batch = [dict(r) for r in batch]
            k = 4 if kind == "wrongtype_first" else len(batch) // 2
            k = min(k, len(batch) - 1)
            if "Amount" in batch[k]:
                batch[k]["Amount"] = "lots"
            else:
                batch[k][list(batch[k].keys())[-1]] = {"unexpected": True}
        doc = {"totalSize": len(records), "done": done}
        if kind == "done_string":
            doc["done"] = "true" if done else "false"
        if next_url:
            doc["nextRecordsUrl"] = next_url
        doc["records"] = batch
        data = json.dumps(doc).encode()
        if kind == "malformed":
            cut = data.index(b'"Id"', len(data) // 2)
            data = data[:cut] + b'"Id" "broken" ' + data[cut:]
        if kind == "truncate":
            # Promise the whole body, send half of it, hang up.
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send(200, None, raw=data)

    def control(self, u):
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/_fake/stats":
            with lock:
                return self.send(200, dict(stats, issued=list(issued), fault=dict(fault)))
        if u.path == "/_fake/reset":
            with lock:
                reset_stats()
                fault.update(kind="none", times=0, page=0)
            return self.send(200, {"ok": True})
        if u.path == "/_fake/fault":
            with lock:
                fault.update(kind=q.get("kind", "none"), times=int(q.get("times", "1")), page=int(q.get("page", "0")))
            return self.send(200, {"ok": True})
        self.send(404, {"error": "no such control"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up (as the timeout test makes it) is not news


def main():
    global PORT
    server = Server(("127.0.0.1", 0), Handler)
    PORT = server.server_address[1]
    print("PORT %d" % PORT, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
