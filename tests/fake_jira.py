#!/usr/bin/python3
"""A fake Jira Cloud REST API v3 for tests/sink_jira.sh, loopback only, written from
Atlassian's public docs (developer.atlassian.com/cloud/jira/platform/):

  basic-auth-for-rest-apis
      "Authorization: Basic base64(<email>:<API token>)"; anything else is 401.
  rest/v3/api-group-issue-search, POST /rest/api/3/search/jql
      {jql, fields (list or comma string), maxResults, nextPageToken, reconcileIssues
      (at most 50 issue ids)}; answer {issues: [{expand, id, self, key, fields}],
      isLast}; only the fields asked for come back.  A JQL the server cannot read or
      a project that does not exist is 400 {"errorMessages": [...], "errors": {}}.
      Eventual consistency (search-and-reconcile): with --search-lag S an issue
      created less than S seconds ago is missing from search answers unless its id is
      in reconcileIssues.
      The old GET/POST /rest/api/3/search was removed in 2025: 410 Gone here.
  rest/v3/api-group-issues, POST /rest/api/3/issue
      {fields: {project: {key|id}, issuetype: {name|id}, summary, priority: {name|id},
      labels: [...], description: ADF}}; 201 {id, key, self}; 400 {"errorMessages": [],
      "errors": {field: message}} for a missing or invalid field.
  rest/v3/api-group-issue-comments, POST /rest/api/3/issue/{issueIdOrKey}/comment
      {body: ADF}; 201 {id, self, body, created}; an unknown issue is 404.
  apis/document/structure (Atlassian Document Format)
      {"type": "doc", "version": 1, "content": [...]}: the nodes checked here are doc,
      paragraph, heading (attrs.level 1-6), bulletList, orderedList, listItem,
      blockquote, rule, codeBlock, text (non-empty "text", marks) and hardBreak; any
      other node or member is refused.  Text fields hold at most 32,767 characters
      (counted here on the document's compact JSON, which is stricter).
  rate-limiting
      429 with Retry-After (seconds).

Limits checked on create: summary required, one line, at most 255 characters (Java's
String length: UTF-16 units); labels without spaces, at most 255 characters; priority
names from a fixed list (Highest, High, Medium, Low, Lowest); issue types Task, Bug,
Story, Epic; projects from --projects.

Control (no auth): POST /_fake/fail {"status": 429|503|500, "count": N, "retry_after":
seconds} answers the next N API requests with that status.

Arguments: --email, --token (the credentials it accepts), --record FILE (one JSON line
per request: method, path, auth "ok"/"bad"/"none" - never the header itself -, status,
body as text), --state FILE (every issue and its comments, rewritten after each change),
--projects REV,OPS, --search-lag SECONDS.  Prints "PORT <n>" once it listens and exits
when its stdin closes.
"""
import argparse
import base64
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISSUE_TYPES = {"Task": "10001", "Bug": "10002", "Story": "10003", "Epic": "10004"}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
TEXT_LIMIT = 32767

lock = threading.Lock()
opts = None
issues = []          # dicts: id, key, project, fields, comments, created (monotonic), seq
failures = {"status": 0, "count": 0, "retry_after": None}


def jira_error(messages=None, errors=None):
    return {"errorMessages": messages or [], "errors": errors or {}}


# ------------------------------------------------------------------ ADF --

INLINE = {"text", "hardBreak"}
MARKS = {"strong", "em", "code", "strike", "underline", "link", "subsup", "textColor"}


class BadADF(Exception):
    pass


def check_keys(node, allowed, where):
    extra = set(node) - allowed
    if extra:
        raise BadADF("%s: unexpected member(s) %s" % (where, ", ".join(sorted(extra))))


def check_inline(node, where):
    if not isinstance(node, dict) or node.get("type") not in INLINE:
        raise BadADF("%s: not an inline node: %r" % (where, node if not isinstance(node, dict) else node.get("type")))
    if node["type"] == "hardBreak":
        check_keys(node, {"type", "attrs"}, where)
        return
    check_keys(node, {"type", "text", "marks"}, where)
    if not isinstance(node.get("text"), str) or node["text"] == "":
        raise BadADF("%s: a text node needs a non-empty text" % where)
    for m in node.get("marks", []):
        if not isinstance(m, dict) or m.get("type") not in MARKS:
            raise BadADF("%s: unknown mark %r" % (where, m))


def check_inlines(node, where):
    content = node.get("content", [])
    if not isinstance(content, list):
        raise BadADF("%s: content must be an array" % where)
    for i, c in enumerate(content):
        check_inline(c, "%s.content[%d]" % (where, i))


def check_block(node, where):
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise BadADF("%s: not a node" % where)
    t = node["type"]
    if t == "paragraph":
        check_keys(node, {"type", "content", "attrs", "marks"}, where)
        check_inlines(node, where)
    elif t == "heading":
        check_keys(node, {"type", "content", "attrs", "marks"}, where)
        level = (node.get("attrs") or {}).get("level")
        if not isinstance(level, int) or not 1 <= level <= 6:
            raise BadADF("%s: a heading needs attrs.level 1..6" % where)
        check_inlines(node, where)
    elif t in ("bulletList", "orderedList"):
        check_keys(node, {"type", "content", "attrs"}, where)
        items = node.get("content")
        if not isinstance(items, list) or not items:
            raise BadADF("%s: a list needs at least one listItem" % where)
        for i, it in enumerate(items):
            w = "%s.content[%d]" % (where, i)
            if not isinstance(it, dict) or it.get("type") != "listItem":
                raise BadADF("%s: a list holds listItem nodes only" % w)
            check_keys(it, {"type", "content", "attrs"}, w)
            kids = it.get("content")
            if not isinstance(kids, list) or not kids or kids[0].get("type") != "paragraph":
                raise BadADF("%s: a listItem starts with a paragraph" % w)
            for k, kid in enumerate(kids):
                if kid.get("type") not in ("paragraph", "bulletList", "orderedList", "codeBlock"):
                    raise BadADF("%s.content[%d]: %s cannot be in a listItem" % (w, k, kid.get("type")))
                check_block(kid, "%s.content[%d]" % (w, k))
    elif t == "blockquote":
        check_keys(node, {"type", "content"}, where)
        for i, c in enumerate(node.get("content") or []):
            check_block(c, "%s.content[%d]" % (where, i))
    elif t == "rule":
        check_keys(node, {"type"}, where)
    elif t == "codeBlock":
        check_keys(node, {"type", "content", "attrs"}, where)
        check_inlines(node, where)
    else:
        raise BadADF("%s: unknown or misplaced node type %r" % (where, t))


def check_doc(doc):
    if not isinstance(doc, dict):
        raise BadADF("not a JSON object")
    if doc.get("type") != "doc" or doc.get("version") != 1 or not isinstance(doc.get("content"), list):
        raise BadADF('the root must be {"type": "doc", "version": 1, "content": [...]}')
    check_keys(doc, {"type", "version", "content"}, "doc")
    for i, b in enumerate(doc["content"]):
        check_block(b, "doc.content[%d]" % i)
    if len(json.dumps(doc, ensure_ascii=False, separators=(",", ":"))) > TEXT_LIMIT:
        raise BadADF("too long")


# ------------------------------------------------------------------ JQL --

TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|=|\(|\)|,)|(?P<word>[A-Za-z0-9_.\-]+))')


def tokenize(jql):
    pos, out = 0, []
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        m = TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise ValueError("Error in the JQL Query: The character '%s' is a reserved JQL character. "
                             "(line 1, character %d)" % (jql[pos:].lstrip()[:1], pos + 1))
        if m.group("str") is not None:
            out.append(("str", re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            out.append(("word", m.group("word")))
        pos = m.end()
    return out


def parse_jql(jql):
    """project = X AND labels = "..." AND labels in ("a", "b") ... [ORDER BY f [ASC|DESC]]"""
    toks = tokenize(jql)
    i, clauses, order = 0, [], None

    def value():
        nonlocal i
        if i < len(toks) and toks[i][0] in ("str", "word"):
            i += 1
            return toks[i - 1][1]
        raise ValueError("Error in the JQL Query: Expecting either a value, list or function but got '%s'."
                         % (toks[i][1] if i < len(toks) else "end of query"))

    while i < len(toks):
        if toks[i][0] == "word" and toks[i][1].upper() == "ORDER":
            if i + 1 >= len(toks) or toks[i + 1][1].upper() != "BY":
                raise ValueError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
            i += 2
            field = value()
            direction = "ASC"
            if i < len(toks) and toks[i][1].upper() in ("ASC", "DESC"):
                direction = toks[i][1].upper()
                i += 1
            order = (field.lower(), direction)
            if i != len(toks):
                raise ValueError("Error in the JQL Query: unexpected '%s' after the ORDER BY clause." % toks[i][1])
            break
        if clauses:
            if toks[i][1].upper() != "AND":
                raise ValueError("Error in the JQL Query: Expecting 'AND' (this fake knows AND only) but got '%s'."
                                 % toks[i][1])
            i += 1
        field = value().lower()
        if field not in ("project", "labels", "key", "status"):
            raise ValueError("Field '%s' does not exist or you do not have permission to view it." % field)
        if i >= len(toks):
            raise ValueError("Error in the JQL Query: Expecting operator but got the end of the query.")
        op = toks[i][1].lower()
        i += 1
        if op in ("=", "!="):
            clauses.append((field, op, [value()]))
        elif op == "in":
            if i >= len(toks) or toks[i] != ("op", "("):
                raise ValueError("Error in the JQL Query: Expecting '(' after 'in'.")
            i += 1
            vals = [value()]
            while i < len(toks) and toks[i] == ("op", ","):
                i += 1
                vals.append(value())
            if i >= len(toks) or toks[i] != ("op", ")"):
                raise ValueError("Error in the JQL Query: Expecting ')' to close the list.")
            i += 1
            clauses.append((field, "in", vals))
        else:
            raise ValueError("Error in the JQL Query: Expecting operator but got '%s'." % op)
    if not clauses:
        raise ValueError("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
    return clauses, order


def matches(issue, clauses):
    for field, op, vals in clauses:
        if field == "project":
            have = {issue["project"], issue["project_id"]}
        elif field == "labels":
            have = set(issue["fields"].get("labels", []))
        elif field == "key":
            have = {issue["key"], issue["id"]}
        else:
            have = {issue["status"]}
        hit = bool(have & set(vals))
        if (op == "!=") == hit:
            return False
    return True


# --------------------------------------------------------------- server --

def utf16_len(s):
    return len(s.encode("utf-16-le")) // 2


def save_state():
    if not opts.state:
        return
    with open(opts.state + ".tmp", "w", encoding="utf-8") as f:
        json.dump([{k: v for k, v in i.items() if k != "created"} for i in issues], f, ensure_ascii=False)
    os.replace(opts.state + ".tmp", opts.state)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        return status

    def record(self, auth, status, raw):
        if not opts.record:
            return
        entry = {"method": self.command, "path": self.path, "auth": auth, "status": status,
                 "body": raw.decode("utf-8", "replace")}
        with lock, open(opts.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def do_GET(self):
        self.handle_any(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.handle_any(self.rfile.read(length))

    def do_PUT(self):
        self.do_POST()

    def auth_state(self):
        h = self.headers.get("Authorization")
        if not h:
            return "none"
        want = "Basic " + base64.b64encode(("%s:%s" % (opts.email, opts.token)).encode()).decode()
        return "ok" if h == want else "bad"

    def handle_any(self, raw):
        path = self.path.split("?")[0]
        if path == "/_fake/fail":
            req = json.loads(raw or b"{}")
            with lock:
                failures.update(status=int(req.get("status", 503)), count=int(req.get("count", 1)),
                                retry_after=req.get("retry_after"))
            return self.send_json(200, {"ok": True})
        auth = self.auth_state()
        status = self.route(path, raw, auth)
        self.record(auth, status, raw)

    def route(self, path, raw, auth):
        with lock:
            if failures["count"] > 0:
                failures["count"] -= 1
                st = failures["status"]
                headers = {}
                if st == 429 and failures["retry_after"] is not None:
                    headers["Retry-After"] = str(failures["retry_after"])
                msg = "Rate limit exceeded." if st == 429 else "Service unavailable"
                return self.send_json(st, jira_error([msg]), headers)
        if auth != "ok":
            return self.send_json(401, jira_error(["Client must be authenticated to access this resource."]),
                                  {"WWW-Authenticate": 'Basic realm="protected-area"'})
        if path in ("/rest/api/3/search", "/rest/api/2/search"):
            return self.send_json(410, jira_error(["The requested API has been removed. Please migrate to the "
                                                   "/rest/api/3/search/jql API."]))
        if self.command != "POST":
            return self.send_json(405, jira_error(["Method not allowed"]))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            return self.send_json(400, jira_error(["Unexpected character in the request body: %s" % e]))
        if not isinstance(body, dict):
            return self.send_json(400, jira_error(["The request body must be a JSON object."]))
        if path == "/rest/api/3/search/jql":
            return self.search(body)
        if path == "/rest/api/3/issue":
            return self.create(body)
        m = re.fullmatch(r"/rest/api/3/issue/([^/]+)/comment", path)
        if m:
            return self.comment(m.group(1), body)
        return self.send_json(404, jira_error(["No resource found for %s" % path]))

    def search(self, body):
        jql = body.get("jql")
        if not isinstance(jql, str) or not jql.strip():
            return self.send_json(400, jira_error(["Unbounded JQL queries are not allowed here. "
                                                   "Please add a search restriction to your query."]))
        fields = body.get("fields", [])
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",")]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            return self.send_json(400, jira_error(["fields must be a list of field names"]))
        reconcile = body.get("reconcileIssues", [])
        if not isinstance(reconcile, list) or len(reconcile) > 50 or not all(type(x) is int for x in reconcile):
            return self.send_json(400, jira_error(["reconcileIssues must be a list of at most 50 issue ids"]))
        max_results = body.get("maxResults", 50)
        if type(max_results) is not int or max_results < 1:
            return self.send_json(400, jira_error(["maxResults must be a positive integer"]))
        extra = set(body) - {"jql", "fields", "maxResults", "nextPageToken", "reconcileIssues", "expand",
                             "properties", "fieldsByKeys", "failFast"}
        if extra:
            return self.send_json(400, jira_error(["Unrecognized field \"%s\"" % sorted(extra)[0]]))
        try:
            clauses, order = parse_jql(jql)
        except ValueError as e:
            return self.send_json(400, jira_error([str(e)]))
        projects = opts.projects.split(",")
        for field, _, vals in clauses:
            if field == "project":
                for v in vals:
                    if v not in projects:
                        return self.send_json(400, jira_error(["The value '%s' does not exist for the field "
                                                               "'project'." % v]))
        now = time.monotonic()
        with lock:
            visible = [i for i in issues if now - i["created"] >= opts.search_lag or int(i["id"]) in reconcile]
            found = [i for i in visible if matches(i, clauses)]
        if order:
            found.sort(key=lambda i: i["seq"], reverse=order[1] == "DESC")
        out = []
        for i in found[:max_results]:
            f = {}
            for name in fields:
                if name == "status":
                    f["status"] = {"name": i["status"], "statusCategory": {"key": "new", "name": "To Do"}}
                elif name in i["fields"]:
                    f[name] = i["fields"][name]
            out.append({"expand": "", "id": i["id"], "self": self.base() + "/rest/api/3/issue/" + i["id"],
                        "key": i["key"], "fields": f})
        return self.send_json(200, {"issues": out, "isLast": True})

    def base(self):
        return "http://%s:%d" % self.server.server_address

    def create(self, body):
        fields = body.get("fields")
        if not isinstance(fields, dict):
            return self.send_json(400, jira_error(["Issue must be created with fields"]))
        errors = {}
        known = {"project", "issuetype", "summary", "priority", "labels", "description"}
        for k in fields:
            if k not in known:
                errors[k] = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown." % k
        project = fields.get("project")
        projects = opts.projects.split(",")
        pkey = None
        if isinstance(project, dict):
            if project.get("key") in projects:
                pkey = project["key"]
            elif project.get("id") in [str(10000 + n) for n in range(len(projects))]:
                pkey = projects[int(project["id"]) - 10000]
        if not pkey:
            errors["project"] = "valid project is required"
        it = fields.get("issuetype")
        if not isinstance(it, dict) or not (it.get("name") in ISSUE_TYPES or it.get("id") in ISSUE_TYPES.values()):
            errors["issuetype"] = "The issue type selected is invalid." if isinstance(it, dict) else \
                "Specify an issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif utf16_len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        if "priority" in fields:
            p = fields["priority"]
            if not isinstance(p, dict) or not (p.get("name") in PRIORITIES or p.get("id") in PRIORITIES.values()):
                errors["priority"] = "The priority selected is invalid."
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            errors["labels"] = "Field 'labels' must be an array of strings."
        else:
            for x in labels:
                if not x or re.search(r"\s", x):
                    errors["labels"] = "The label '%s' contains spaces which is invalid." % x
                elif len(x) > 255:
                    errors["labels"] = "The label '%s' exceeds the maximum length for a single label of 255 " \
                                       "characters." % x
        if "description" in fields:
            try:
                check_doc(fields["description"])
            except BadADF as e:
                errors["description"] = ("The entered text is too long. It exceeds the allowed limit of 32,767 "
                                         "characters." if str(e) == "too long" else
                                         "Operation value must be an Atlassian Document (see the Atlassian "
                                         "Document Format): %s" % e)
        if errors:
            return self.send_json(400, jira_error([], errors))
        with lock:
            seq = len(issues) + 1
            n = sum(1 for i in issues if i["project"] == pkey) + 1
            issue = {"id": str(10000 + seq), "key": "%s-%d" % (pkey, n), "project": pkey,
                     "project_id": str(10000 + projects.index(pkey)), "fields": fields, "status": "To Do",
                     "comments": [], "created": time.monotonic(), "seq": seq}
            issues.append(issue)
            save_state()
        return self.send_json(201, {"id": issue["id"], "key": issue["key"],
                                    "self": self.base() + "/rest/api/3/issue/" + issue["id"]})

    def comment(self, key, body):
        with lock:
            issue = next((i for i in issues if key in (i["key"], i["id"])), None)
        if not issue:
            return self.send_json(404, jira_error(["Issue does not exist or you do not have permission to see it."]))
        extra = set(body) - {"body", "visibility", "properties"}
        if extra:
            return self.send_json(400, jira_error(["Unrecognized field \"%s\"" % sorted(extra)[0]]))
        if "body" not in body:
            return self.send_json(400, jira_error([], {"comment": "Comment body can not be empty!"}))
        try:
            check_doc(body["body"])
        except BadADF as e:
            return self.send_json(400, jira_error([], {"comment": "Comment body is not a valid Atlassian "
                                                                  "Document: %s" % e}))
        with lock:
            cid = str(20000 + sum(len(i["comments"]) for i in issues) + 1)
            issue["comments"].append({"id": cid, "body": body["body"]})
            save_state()
        return self.send_json(201, {"id": cid, "self": self.base() + "/rest/api/3/issue/%s/comment/%s" %
                                    (issue["id"], cid), "body": body["body"], "created": "2026-11-01T06:00:00.000+0000"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def main():
    global opts
    ap = argparse.ArgumentParser()
    ap.add_argument("--email", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--record")
    ap.add_argument("--state")
    ap.add_argument("--projects", default="REV")
    ap.add_argument("--search-lag", type=float, default=0.0)
    opts = ap.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
