#!/usr/bin/python3
"""A fake Gong API v2 for tests/gong.sh, loopback only, written from Gong's public docs:

  https://help.gong.io/apidocs/introduction-2
      Basic authentication: "Authorization: Basic " + Base64(<accessKey>:<accessKeySecret>);
      limits (3 calls/s, 10,000/day): HTTP 429 with a Retry-After header in seconds;
      cursors: a list answer has "records" {totalRecords, currentPageSize, currentPageNumber,
      cursor}; the next page is the same call with that cursor, all other inputs unchanged.
  https://help.gong.io/apidocs/retrieve-detailed-call-data-by-various-filters-v2callsextensive-2
      POST /v2/calls/extensive: {"cursor", "filter": {fromDateTime (inclusive), toDateTime
      (exclusive), workspaceId, callIds, primaryUserIds}, "contentSelector": {"context":
      "None"|"Basic"|"Extended", "exposedFields": {"content": {"brief": bool}, ...}}}; answer
      {"requestId", "records", "calls": [{"metaData": {id, url, title, scheduled, started,
      duration, primaryUserId, direction, system, scope, media, language, workspaceId, ...},
      "context": [{"system": "Salesforce", "objects": [{"objectType", "objectId",
      "fields": [{"name", "value"}]}]}], "content": {"brief": ...}}]}; errors
      {"requestId", "errors": [...]} with 400 (malformed request), 401 (access denied),
      404, 429 (API request limit exceeded).
  https://help.gong.io/apidocs/retrieve-transcripts-of-calls-by-date-or-callids-v2callstranscript-2
      POST /v2/calls/transcript: same filter; "callTranscripts": [{"callId", "transcript":
      [{"speakerId", "topic", "sentences": [{"start", "end", "text"}]}]}] (start/end in ms).
  https://github.com/estuary/connectors/pull/4314 (a real client's observation): a filter
      matching no call is answered 404 {"errors": ["No calls found corresponding to the
      provided filters"]}.

Prints "PORT <n>" once it listens and exits when its stdin closes.

Fault injection is chosen by the test through a path prefix in the plugin's base_url:
    /t/<id>/<fault>/<times>/<page>/v2/...
serves <fault> on page <page> (1-based) for the first <times> requests of scenario <id>, then
answers normally.  Faults: 429 (Retry-After: 1), 500, 503, timeout (sleeps 3 s before
answering), truncate (a 2xx body cut after two calls), truncate0 (cut before the first call),
malformed (invalid JSON inside "calls"), wrongtype (metaData.id a number), wrongshape
("calls" a string), error (400 with Gong's error body), nocalls (404 "No calls found"),
samecursor (the answer's cursor is the one the request sent).  Without the prefix, or with
fault "none", it just answers.

Environment: GONG_FAKE_KEY / GONG_FAKE_SECRET (the credentials it accepts), GONG_FAKE_PAGE_SIZE
(calls per page, default 4; Gong's own is 100), GONG_FAKE_LOG (a file that gets one JSON line
per request: scenario, endpoint, page, whether a cursor was sent, status, filter).
"""
import base64
import hashlib
import json
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = os.environ.get("GONG_FAKE_KEY", "ak-test")
SECRET = os.environ.get("GONG_FAKE_SECRET", "sk-test")
PAGE_SIZE = int(os.environ.get("GONG_FAKE_PAGE_SIZE", "4"))
LOG = os.environ.get("GONG_FAKE_LOG")
EXPECTED_AUTH = "Basic " + base64.b64encode(("%s:%s" % (KEY, SECRET)).encode()).decode()

lock = threading.Lock()
fault_counts = {}
request_no = [0]


def make_calls():
    """Twelve calls, 2026-07-25 .. 2026-11-01, nine days apart, with varied CRM context."""
    calls = []
    start = datetime(2026, 7, 25, 15, 30, 0, tzinfo=timezone.utc)
    for i in range(12):
        when = start + timedelta(days=9 * i)
        cid = "70000000000000000%02d" % (i + 1)
        # Times with a -07:00 offset for odd calls: the plugin converts to UTC.
        if i % 2:
            local = when.astimezone(timezone(timedelta(hours=-7)))
            started = local.isoformat()
        else:
            started = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = {
            "id": cid, "url": "https://app.gong.io/call?id=" + cid, "title": "Call %d with ACME %d" % (i + 1, i % 3),
            "scheduled": started, "started": started, "duration": 600 + 60 * i, "primaryUserId": "234599484848423",
            "direction": "Conference", "system": "Zoom", "scope": "External" if i != 4 else "Internal",
            "media": "Video", "language": "eng", "workspaceId": "623457276584334" if i != 6 else "999",
            "sdrDisposition": None, "clientUniqueId": None, "customData": None, "purpose": None,
            "meetingUrl": "https://zoom.us/j/1", "isPrivate": False, "calendarEventId": None,
        }
        account = "001A0000%02dXYZ" % (i % 3)
        if i == 2:
            context = []                               # no CRM context at all
        elif i == 5:
            context = [{"system": "HubSpot", "objects": [{"objectType": "Account", "objectId": "hs-1"}]}]
        elif i == 7:
            context = [{"system": "Salesforce", "objects": [
                {"objectType": "Opportunity", "objectId": "006B00000077OPP",
                 "fields": [{"name": "Name", "value": "Renewal"}]}]}]
        else:
            context = [{"system": "Salesforce", "objects": [
                {"objectType": "Opportunity", "objectId": "006B000000%02dOPP" % i,
                 "fields": [{"name": "StageName", "value": "Negotiation"}]},
                {"objectType": "Account", "objectId": account,
                 "fields": [{"name": "Name", "value": "ACME %d" % (i % 3)}, {"name": "Industry", "value": "Tech"}]}]}]
        calls.append({"when": when, "meta": meta, "context": context,
                      "brief": "Brief of call %d: pricing and \"renewal\" discussed." % (i + 1)})
    return calls


CALLS = make_calls()


def parse_time(s, what):
    if not isinstance(s, str):
        raise ValueError("%s must be a string" % what)
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("%s: Illegal date-time format '%s'" % (what, s))
    if t.tzinfo is None:
        raise ValueError("%s: a time zone is required" % what)
    return t


def cursor_for(page, filt):
    digest = hashlib.sha256(json.dumps(filt, sort_keys=True).encode()).hexdigest()[:16]
    raw = json.dumps({"page": page, "filter": digest}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + ".fake"


def read_cursor(cur, filt):
    try:
        raw = base64.urlsafe_b64decode(cur[:-5] + "=" * (-len(cur[:-5]) % 4))
        d = json.loads(raw)
    except Exception:
        raise ValueError("cursor: invalid cursor")
    digest = hashlib.sha256(json.dumps(filt, sort_keys=True).encode()).hexdigest()[:16]
    if d.get("filter") != digest:
        raise ValueError("cursor: the filter differs from the request that returned this cursor")
    return int(d["page"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error_body(self, status, errors, headers=None):
        self.send_json(status, {"requestId": "req-%d" % request_no[0], "errors": errors}, headers)

    def log(self, **entry):
        if LOG:
            with lock, open(LOG, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def do_GET(self):
        self.error_body(405, ["Method GET is not supported for this endpoint"])

    def do_POST(self):
        with lock:
            request_no[0] += 1
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        parts = self.path.split("?")[0].strip("/").split("/")
        scenario, fault, times, fault_page = "-", "none", 0, 1
        if parts[0] == "t" and len(parts) >= 5:
            scenario, fault, times, fault_page = parts[1], parts[2], int(parts[3]), int(parts[4])
            parts = parts[5:]
        endpoint = "/" + "/".join(parts)
        if endpoint not in ("/v2/calls/extensive", "/v2/calls/transcript"):
            return self.error_body(404, ["No such endpoint: " + endpoint])

        if self.headers.get("Authorization") != EXPECTED_AUTH:
            self.log(scenario=scenario, endpoint=endpoint, page=0, cursor=False, status=401)
            return self.error_body(401, ["Access denied"])
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.error_body(400, ["Content-Type must be application/json"])
        try:
            req = json.loads(raw)
            if not isinstance(req, dict) or not isinstance(req.get("filter"), dict):
                raise ValueError("filter: is required")
            filt = req["filter"]
            page = read_cursor(req["cursor"], filt) if req.get("cursor") is not None else 1
            selected = self.select(filt)
        except (ValueError, KeyError) as e:
            self.log(scenario=scenario, endpoint=endpoint, page=0, cursor=False, status=400)
            return self.error_body(400, [str(e)])

        # Fault injection for this scenario and page.
        if fault != "none" and page == fault_page:
            with lock:
                n = fault_counts.get(scenario, 0)
                active = n < times
                if active:
                    fault_counts[scenario] = n + 1
            if active:
                return self.fault(fault, scenario, endpoint, page, req, filt, selected)

        self.log(scenario=scenario, endpoint=endpoint, page=page, cursor=req.get("cursor") is not None, status=200,
                 filter=filt)
        body = self.answer(endpoint, req, filt, selected, page)
        if body is None:
            return self.error_body(404, ["No calls found corresponding to the provided filters"])
        self.send_json(200, None, raw=body.encode())

    def select(self, filt):
        lo = parse_time(filt["fromDateTime"], "fromDateTime") if "fromDateTime" in filt else None
        hi = parse_time(filt["toDateTime"], "toDateTime") if "toDateTime" in filt else None
        ids = filt.get("callIds")
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(x, str) for x in ids)):
            raise ValueError("callIds: must be an array of strings")
        ws = filt.get("workspaceId")
        out = []
        for c in CALLS:
            if lo and c["when"] < lo:
                continue
            if hi and c["when"] >= hi:
                continue
            if ids is not None and c["meta"]["id"] not in ids:
                continue
            if ws is not None and c["meta"]["workspaceId"] != ws:
                continue
            out.append(c)
        return out

    def answer(self, endpoint, req, filt, selected, page, mangle=None):
        """The page's JSON text, or None when the filter matches nothing."""
        if not selected:
            return None
        first = (page - 1) * PAGE_SIZE
        chunk = selected[first:first + PAGE_SIZE]
        records = {"totalRecords": len(selected), "currentPageSize": len(chunk), "currentPageNumber": page - 1}
        if first + PAGE_SIZE < len(selected):
            records["cursor"] = cursor_for(page + 1, filt)
        if mangle == "samecursor":
            records["cursor"] = cursor_for(page, filt)
        if endpoint == "/v2/calls/extensive":
            sel = req.get("contentSelector") or {}
            ctx = sel.get("context", "None")
            brief = ((sel.get("exposedFields") or {}).get("content") or {}).get("brief") is True
            items = []
            for c in chunk:
                call = {"metaData": dict(c["meta"])}
                if ctx in ("Basic", "Extended"):
                    call["context"] = [{"system": s["system"], "objects": [
                        {k: v for k, v in o.items() if k != "fields" or ctx == "Extended"} for o in s["objects"]]}
                        for s in c["context"]]
                if brief:
                    call["content"] = {"brief": c["brief"]}
                items.append(call)
            if mangle == "wrongtype" and items:
                items[-1]["metaData"]["id"] = int(items[-1]["metaData"]["id"])
            key = "calls"
        else:
            items = [{"callId": c["meta"]["id"], "transcript": [
                {"speakerId": "6432345678555530067", "topic": "Pricing", "sentences": [
                    {"start": 460230, "end": 462343, "text": "Let's talk about the renewal."},
                    {"start": 462500, "end": 465000, "text": "Sure, what does it cost?"}]},
                {"speakerId": "8432345678555530099", "topic": None, "sentences": [
                    {"start": 466000, "end": 470120, "text": "About the same as last year."}]}]} for c in chunk]
            key = "callTranscripts"
        doc = {"requestId": "req-%d" % request_no[0], "records": records, key: items}
        if mangle == "wrongshape":
            doc[key] = "none"
        text = json.dumps(doc)
        if mangle == "malformed":
            # The page's last element is broken: the ones before it are fine.
            mark = '"metaData": {"id"' if key == "calls" else '"sentences": ['
            at = text.rindex(mark) + len(mark)
            text = text[:at] + (' "x"' if key == "calls" else "}") + text[at:]
        return text

    def fault(self, fault, scenario, endpoint, page, req, filt, selected):
        self.log(scenario=scenario, endpoint=endpoint, page=page, cursor=req.get("cursor") is not None,
                 status="fault:" + fault)
        if fault == "429":
            return self.error_body(429, ["API request limit exceeded"], {"Retry-After": "1"})
        if fault in ("500", "503"):
            return self.error_body(int(fault), ["Internal error, please retry" if fault == "500"
                                                else "Service temporarily unavailable"])
        if fault == "timeout":
            time.sleep(3)
            body = self.answer(endpoint, req, filt, selected, page)
            try:
                return self.send_json(200, None, raw=(body or "{}").encode())
            except OSError:
                return None
        if fault in ("truncate", "truncate0"):
            text = self.answer(endpoint, req, filt, selected, page) or "{}"
            if fault == "truncate":
                # Cut inside the third element of the array.
                key = '"calls": [' if endpoint.endswith("extensive") else '"callTranscripts": ['
                at = text.index(key) + len(key)
                for _ in range(2):
                    at = text.index('{"metaData"' if "calls" in key else '{"callId"', at + 1)
                cut = at + 20
            else:
                cut = text.index('"records"') + 5
            data = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault in ("malformed", "wrongtype", "wrongshape", "samecursor"):
            text = self.answer(endpoint, req, filt, selected, page, mangle=fault) or "{}"
            return self.send_json(200, None, raw=text.encode())
        if fault == "error":
            return self.error_body(400, ["fromDateTime: the date range may not exceed 2 years"])
        if fault == "nocalls":
            return self.error_body(404, ["No calls found corresponding to the provided filters"])
        return self.error_body(500, ["unknown fault " + fault])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-answer (timeouts) is expected


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
