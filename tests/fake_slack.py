#!/usr/bin/python3
"""A fake Slack Web API for tests/slack.sh, loopback only, written from Slack's public docs:

  https://docs.slack.dev/apis/web-api
      methods at <base>/METHOD; arguments as GET query parameters or a POST
      application/x-www-form-urlencoded body (or both); the token in "Authorization:
      Bearer xoxb-..."; every answer is a JSON object with a boolean "ok", and on failure a
      machine-readable "error" code, e.g. {"ok": false, "error": "channel_not_found"}
      (HTTP 200).
  https://docs.slack.dev/reference/methods/conversations.history
      channel, cursor, limit (default 100, at most 999), oldest, latest, inclusive;
      {"ok": true, "messages": [... newest first ...], "has_more": bool, "pin_count",
      "response_metadata": {"next_cursor": "bmV4dF90czox..."}}; errors channel_not_found,
      not_in_channel, invalid_cursor, invalid_auth, not_authed, token_revoked, ratelimited,
      internal_error, ...
  https://docs.slack.dev/reference/methods/conversations.replies
      channel, ts (a thread's parent), cursor, limit; the answer holds the parent message
      and its replies (this fake repeats the parent at the top of every page); an unknown
      ts is thread_not_found.
  https://docs.slack.dev/apis/web-api/pagination
      follow response_metadata.next_cursor until it is empty ("").
  https://docs.slack.dev/apis/web-api/rate-limits
      over a method's tier: HTTP 429 Too Many Requests with a Retry-After header (seconds).

For the slack_alert action (tests/sink_slack.sh), also written from Slack's docs:

  https://docs.slack.dev/reference/methods/chat.postMessage
      POST, Authorization: Bearer, application/json (or a form); channel required; text
      and/or blocks (neither: no_text); thread_ts, reply_broadcast; answers {"ok": true,
      "channel", "ts", "message"} or HTTP 200 {"ok": false, "error"}: channel_not_found,
      not_in_channel (channels "CPRIV*" here), is_archived ("CARCH*"), msg_too_long (text
      over 40,000 characters), invalid_blocks (with response_metadata.messages
      "[ERROR] ..."), invalid_json (a body that is not JSON), no_text, and
      msg_blocks_too_long past 13,000 characters of block text in all (not in the docs:
      reported in https://github.com/slackapi/bolt-js/issues/2509).
  https://docs.slack.dev/reference/block-kit/blocks
      at most 50 blocks; header: plain_text at most 150 characters; section: text at most
      3000 characters; context: at most 10 elements of at most 3000 characters.
  https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
      incoming webhooks POST /services/T.../B.../<secret> with JSON; plain-text answers:
      200 "ok"; 400 invalid_payload / no_text / invalid_blocks; 403 action_prohibited;
      404 channel_not_found; 410 channel_is_archived; 500 rollup_error.  An unknown hook
      path is 404 no_service.
  Faults for these (the same /t/<id>/<fault>/<times>/<where>/ prefix; <where> is "p", any
  post of that scenario): 429 (Retry-After: 1), 500, 503, or any other word: for
  chat.postMessage an HTTP 200 {"ok": false, "error": <word>}; for a webhook the status
  its docs give that word (action_prohibited 403, channel_not_found 404,
  channel_is_archived 410, invalid_payload 400, else 400).

Environment: SLACK_FAKE_HOOK (the incoming webhook path it accepts, default
/services/T0FAKE/B0FAKE/fakehooksecret).  Posts are logged to SLACK_FAKE_LOG with method
"chat.postMessage" or "webhook", status ("ok", the error word or "fault:<fault>"), the
body as parsed JSON (or raw text), the assigned ts and whether the thread_ts was known.

Prints "PORT <n>" once it listens and exits when its stdin closes.

Fault injection is chosen by the test through a path prefix in the plugin's base_url:
    /t/<id>/<fault>/<times>/<where>/api/METHOD
serves <fault> for the first <times> matching requests of scenario <id>; <where> is a
history page number (1 = the request without a cursor) or "r<n>" for the n-th
conversations.replies request.  Faults: 429 (Retry-After: 1, body ok:false ratelimited),
500, 503, timeout (sleeps 3 s), truncate (a 2xx body cut inside "messages" after two
messages), truncate0 (cut before the first message), malformed (invalid JSON inside
"messages"), wrongtype (a ts that is a number), wrongshape ("ok" a string), nook (no "ok"
member), error (ok:false invalid_arguments), ratelimited (HTTP 200 ok:false ratelimited),
revoked (ok:false token_revoked), samecursor (next_cursor is the cursor that was sent),
nothread (ok:false thread_not_found, as when a parent is deleted after history listed it).

Environment: SLACK_FAKE_TOKEN (the bot token it accepts), SLACK_FAKE_LOG (a file that gets
one JSON line per request: scenario, method, page, cursor sent, status).
"""
import base64
import copy
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ.get("SLACK_FAKE_TOKEN", "xoxb-test")
HOOK = os.environ.get("SLACK_FAKE_HOOK", "/services/T0FAKE/B0FAKE/fakehooksecret")
LOG = os.environ.get("SLACK_FAKE_LOG")

lock = threading.Lock()
fault_counts = {}
replies_seen = {}
posted = {}        # (channel, ts) of every message posted through chat.postMessage
post_seq = [0]

# Channel C0REVOPS01: nine messages, one every 5 hours from 2026-10-01T00:00:00Z
# (1790812800), two of them threads.
BASE_TS = 1790812800


def ts_of(i, micro=100):
    return "%d.%06d" % (BASE_TS + i * 5 * 3600, micro)


def make_channel():
    msgs = []
    for i in range(9):
        m = {"type": "message", "user": "U0%07d" % (i % 3), "text": "message %d about ACME \"renewal\"" % i,
             "ts": ts_of(i)}
        if i == 4:
            m = {"type": "message", "subtype": "bot_message", "bot_id": "B0BOT0001", "text": "bot says hi",
                 "ts": ts_of(i)}
        if i in (2, 6):
            n = 2 if i == 2 else 3
            m.update({"thread_ts": ts_of(i), "reply_count": n, "reply_users_count": 1, "latest_reply": ts_of(i, 900)})
        msgs.append(m)
    threads = {}
    for i, n in ((2, 2), (6, 3)):
        parent = dict(msgs[i])
        replies = [{"type": "message", "user": "U0000009", "text": "reply %d to %d" % (k, i),
                    "ts": ts_of(i, 200 + k), "thread_ts": ts_of(i), "parent_user_id": parent.get("user")}
                   for k in range(n)]
        threads[ts_of(i)] = [parent] + replies
    return list(reversed(msgs)), threads   # history is newest first


HISTORY, THREADS = make_channel()
CHANNELS = {"C0REVOPS01": HISTORY, "C0EMPTY01": []}


def encode_cursor(kind, n):
    return base64.b64encode(("%s:%d" % (kind, n)).encode()).decode()


def decode_cursor(c, kind):
    try:
        k, n = base64.b64decode(c.encode(), validate=True).decode().split(":")
        if k != kind:
            raise ValueError
        return int(n)
    except Exception:
        raise ValueError("invalid_cursor")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_text(self, status, text, headers=None):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, body, headers=None):
        self.send_text(status, json.dumps(body), headers)

    def log(self, **entry):
        if LOG:
            with lock, open(LOG, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def do_GET(self):
        self.handle_call(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.handle_call(self.rfile.read(length))

    def handle_call(self, raw):
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        scenario, fault, times, where = "-", "none", 0, "1"
        if parts[0] == "t" and len(parts) >= 5:
            scenario, fault, times, where = parts[1], parts[2], int(parts[3]), parts[4]
            parts = parts[5:]
        if parts and parts[0] == "services":
            return self.webhook("/" + "/".join(parts), raw, scenario, fault, times, where)
        if len(parts) != 2 or parts[0] != "api":
            return self.send_json(404, {"ok": False, "error": "unknown_method"})
        method = parts[1]
        if method == "chat.postMessage":
            return self.post_message(raw, scenario, fault, times, where)
        args = dict(urllib.parse.parse_qsl(query))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and ctype == "application/x-www-form-urlencoded":
            args.update(urllib.parse.parse_qsl(raw.decode()))
        elif raw and ctype == "application/json":
            args.update({k: str(v) for k, v in json.loads(raw).items()})

        auth = self.headers.get("Authorization")
        if auth is None:
            self.log(scenario=scenario, method=method, page=0, cursor=False, status="not_authed")
            return self.send_json(200, {"ok": False, "error": "not_authed"})
        if auth != "Bearer " + TOKEN:
            self.log(scenario=scenario, method=method, page=0, cursor=False, status="invalid_auth")
            return self.send_json(200, {"ok": False, "error": "invalid_auth"})

        if method == "conversations.history":
            self.history(args, scenario, fault, times, where)
        elif method == "conversations.replies":
            self.replies(args, scenario, fault, times, where)
        else:
            self.send_json(404, {"ok": False, "error": "unknown_method"})

    def limit_of(self, args):
        try:
            n = int(args.get("limit", "100"))
        except ValueError:
            raise ValueError("invalid_limit")
        return max(1, min(n, 999))

    def take_fault(self, scenario, fault, times, where, here):
        if fault == "none" or where != here:
            return False
        with lock:
            n = fault_counts.get(scenario, 0)
            if n >= times:
                return False
            fault_counts[scenario] = n + 1
        return True

    def history(self, args, scenario, fault, times, where):
        channel = args.get("channel")
        try:
            if channel is None:
                raise ValueError("channel_not_found")
            if channel not in CHANNELS:
                raise ValueError("not_in_channel" if channel.startswith("CPRIV") else "channel_not_found")
            limit = self.limit_of(args)
            start = decode_cursor(args["cursor"], "next_ts") if args.get("cursor") else 0
            oldest = float(args.get("oldest", "0"))
            latest = float(args["latest"]) if args.get("latest") else float("inf")
        except ValueError as e:
            self.log(scenario=scenario, method="conversations.history", page=0, cursor="cursor" in args,
                     status=str(e))
            return self.send_json(200, {"ok": False, "error": str(e)})
        msgs = [m for m in CHANNELS[channel] if oldest < float(m["ts"]) < latest]
        page = start // limit + 1
        chunk = msgs[start:start + limit]
        more = start + limit < len(msgs)
        body = {"ok": True, "messages": copy.deepcopy(chunk), "has_more": more, "pin_count": 0,
                "response_metadata": {"next_cursor": encode_cursor("next_ts", start + limit) if more else ""}}
        if self.take_fault(scenario, fault, times, where, str(page)):
            return self.fault(fault, scenario, "conversations.history", page, args, body)
        self.log(scenario=scenario, method="conversations.history", page=page, cursor="cursor" in args, status=200,
                 oldest=args.get("oldest"), latest=args.get("latest"), limit=limit)
        self.send_json(200, body)

    def replies(self, args, scenario, fault, times, where):
        with lock:
            replies_seen[scenario] = replies_seen.get(scenario, 0) + 1
            nth = replies_seen[scenario]
        try:
            channel, ts = args.get("channel"), args.get("ts")
            if channel not in CHANNELS:
                raise ValueError("channel_not_found")
            if ts not in THREADS:
                raise ValueError("thread_not_found")
            limit = self.limit_of(args)
            start = decode_cursor(args["cursor"], "next_reply") if args.get("cursor") else 0
        except ValueError as e:
            self.log(scenario=scenario, method="conversations.replies", page=0, cursor="cursor" in args,
                     status=str(e))
            return self.send_json(200, {"ok": False, "error": str(e)})
        thread = THREADS[ts]
        replies = thread[1:]
        chunk = [thread[0]] + replies[start:start + limit]
        more = start + limit < len(replies)
        body = {"ok": True, "messages": copy.deepcopy(chunk), "has_more": more,
                "response_metadata": {"next_cursor": encode_cursor("next_reply", start + limit) if more else ""}}
        if self.take_fault(scenario, fault, times, where, "r%d" % nth):
            return self.fault(fault, scenario, "conversations.replies", nth, args, body)
        self.log(scenario=scenario, method="conversations.replies", page=start // limit + 1, thread=ts,
                 cursor="cursor" in args, status=200)
        self.send_json(200, body)

    # ---------------------------------------------------- chat.postMessage, webhooks

    def parse_post(self, raw):
        """The posted arguments: a JSON object or a form; None when the JSON is broken."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/json":
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return None, raw.decode("utf-8", "replace")
            return (body if isinstance(body, dict) else None), body
        args = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
        if "blocks" in args:
            try:
                args["blocks"] = json.loads(args["blocks"])
            except ValueError:
                args["blocks"] = "not json"
        return args, args

    @staticmethod
    def check_blocks(blocks):
        """Block Kit's limits: the first problem as Slack's "[ERROR] ..." message, or None."""
        if not isinstance(blocks, list):
            return "[ERROR] must provide an array [json-pointer:/blocks]"
        if len(blocks) > 50:
            return "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"

        def text_of(obj, where, types, limit):
            if not isinstance(obj, dict) or obj.get("type") not in types or not isinstance(obj.get("text"), str):
                return "[ERROR] must be a text object of type %s [json-pointer:%s]" % ("/".join(types), where)
            if len(obj["text"]) == 0:
                return "[ERROR] must be more than 0 characters [json-pointer:%s/text]" % where
            if len(obj["text"]) > limit:
                return "[ERROR] must be less than %d characters [json-pointer:%s/text]" % (limit + 1, where)
            return None

        for n, b in enumerate(blocks):
            w = "/blocks/%d" % n
            if not isinstance(b, dict):
                return "[ERROR] must be an object [json-pointer:%s]" % w
            t = b.get("type")
            if t == "header":
                e = text_of(b.get("text"), w + "/text", ("plain_text",), 150)
            elif t == "section":
                e = text_of(b.get("text"), w + "/text", ("plain_text", "mrkdwn"), 3000)
            elif t == "context":
                els = b.get("elements")
                if not isinstance(els, list) or not 1 <= len(els) <= 10:
                    return "[ERROR] must provide 1 to 10 elements [json-pointer:%s/elements]" % w
                e = None
                for k, el in enumerate(els):
                    e = e or text_of(el, "%s/elements/%d" % (w, k), ("plain_text", "mrkdwn"), 3000)
            elif t == "divider":
                e = None
            else:
                e = "[ERROR] unsupported type: %s [json-pointer:%s/type]" % (t, w)
            if e:
                return e
        return None

    @staticmethod
    def block_texts(blocks):
        for b in blocks:
            if isinstance(b.get("text"), dict):
                yield b["text"].get("text", "")
            for e in b.get("elements", []) if isinstance(b.get("elements"), list) else []:
                if isinstance(e, dict):
                    yield e.get("text", "")

    def post_message(self, raw, scenario, fault, times, where):
        args, logged = self.parse_post(raw)
        auth = self.headers.get("Authorization")

        def answer(status, body, entry_status, **extra):
            self.log(scenario=scenario, method="chat.postMessage", status=entry_status, auth=auth == "Bearer " + TOKEN,
                     body=logged, **extra)
            return self.send_json(status, body)

        if auth is None:
            return answer(200, {"ok": False, "error": "not_authed"}, "not_authed")
        if auth != "Bearer " + TOKEN:
            return answer(200, {"ok": False, "error": "invalid_auth"}, "invalid_auth")
        if self.take_fault(scenario, fault, times, where, "p"):
            if fault == "429":
                self.log(scenario=scenario, method="chat.postMessage", status="fault:429", auth=True, body=logged)
                return self.send_json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            if fault in ("500", "503"):
                self.log(scenario=scenario, method="chat.postMessage", status="fault:" + fault, auth=True, body=logged)
                return self.send_text(int(fault), "<html><body>Slack is having trouble</body></html>")
            return answer(200, {"ok": False, "error": fault}, "fault:" + fault)
        if args is None:
            return answer(200, {"ok": False, "error": "invalid_json"}, "invalid_json")
        channel = args.get("channel")
        if not channel:
            return answer(200, {"ok": False, "error": "channel_not_found"}, "channel_not_found")
        if channel.startswith("CPRIV"):
            return answer(200, {"ok": False, "error": "not_in_channel"}, "not_in_channel")
        if channel.startswith("CARCH"):
            return answer(200, {"ok": False, "error": "is_archived"}, "is_archived")
        if not channel.startswith("C0"):
            return answer(200, {"ok": False, "error": "channel_not_found"}, "channel_not_found")
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks:
            return answer(200, {"ok": False, "error": "no_text"}, "no_text")
        if blocks is not None:
            e = self.check_blocks(blocks)
            if e:
                return answer(200, {"ok": False, "error": "invalid_blocks",
                                    "response_metadata": {"messages": [e]}}, "invalid_blocks", why=e)
        if blocks is not None and sum(len(t) for t in self.block_texts(blocks)) > 13000:
            # undocumented, reported in slackapi/bolt-js#2509: blocks of more than about
            # 13,000 characters in all
            return answer(200, {"ok": False, "error": "msg_blocks_too_long"}, "msg_blocks_too_long")
        if text is not None and (not isinstance(text, str) or len(text) > 40000):
            return answer(200, {"ok": False, "error": "msg_too_long"}, "msg_too_long")
        thread = args.get("thread_ts")
        with lock:
            post_seq[0] += 1
            ts = "%d.%06d" % (BASE_TS + 86400 * 30 + post_seq[0], post_seq[0])
            known = thread is None or (channel, thread) in posted
            posted[(channel, ts)] = True
        msg = {"type": "message", "text": text or "", "ts": ts, "bot_id": "B0REVOPS"}
        if thread:
            msg["thread_ts"] = thread
        return answer(200, {"ok": True, "channel": channel, "ts": ts, "message": msg}, "ok", ts=ts,
                      thread_known=known)

    def webhook(self, path, raw, scenario, fault, times, where):
        def answer(status, text, entry_status, headers=None):
            try:
                logged = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                logged = raw.decode("utf-8", "replace")
            self.log(scenario=scenario, method="webhook", status=entry_status, body=logged, path_ok=path == HOOK)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        if self.command != "POST":
            return answer(405, "invalid_method", "invalid_method")
        if path != HOOK:
            return answer(404, "no_service", "no_service")
        if self.take_fault(scenario, fault, times, where, "p"):
            if fault == "429":
                return answer(429, "rate_limited", "fault:429", {"Retry-After": "1"})
            if fault in ("500", "503"):
                return answer(int(fault), "rollup_error", "fault:" + fault)
            st = {"action_prohibited": 403, "channel_not_found": 404, "channel_is_archived": 410}.get(fault, 400)
            return answer(st, fault, "fault:" + fault)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            body = json.loads(raw.decode("utf-8")) if ctype == "application/json" else None
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return answer(400, "invalid_payload", "invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return answer(400, "no_text", "no_text")
        if body.get("blocks") is not None and self.check_blocks(body["blocks"]):
            return answer(400, "invalid_blocks", "invalid_blocks")
        return answer(200, "ok", "ok")

    def fault(self, fault, scenario, method, page, args, body):
        self.log(scenario=scenario, method=method, page=page, cursor="cursor" in args, status="fault:" + fault)
        if fault == "429":
            return self.send_json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        if fault in ("500", "503"):
            return self.send_text(int(fault), "<html><body>Slack is having trouble</body></html>")
        if fault == "timeout":
            time.sleep(3)
            try:
                return self.send_json(200, body)
            except OSError:
                return None
        if fault in ("truncate", "truncate0"):
            text = json.dumps(body)
            if fault == "truncate":
                at = text.index('"messages": [')
                for _ in range(3):
                    at = text.index('{"type"', at + 1)
                cut = at + 10
            else:
                cut = text.index('"messages"') - 2
            data = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault == "malformed":
            text = json.dumps(body)
            at = text.rindex('"ts": ') + len('"ts": ')
            return self.send_text(200, text[:at] + "," + text[at:])
        if fault == "wrongtype":
            body["messages"][-1]["ts"] = float(body["messages"][-1]["ts"])
            return self.send_json(200, body)
        if fault == "wrongshape":
            body["ok"] = "yes"
            return self.send_json(200, body)
        if fault == "nook":
            del body["ok"]
            return self.send_json(200, body)
        if fault == "error":
            return self.send_json(200, {"ok": False, "error": "invalid_arguments"})
        if fault == "ratelimited":
            return self.send_json(200, {"ok": False, "error": "ratelimited"})
        if fault == "nothread":
            return self.send_json(200, {"ok": False, "error": "thread_not_found"})
        if fault == "revoked":
            return self.send_json(200, {"ok": False, "error": "token_revoked"})
        if fault == "samecursor":
            body["response_metadata"]["next_cursor"] = args.get("cursor") or encode_cursor("next_ts", 0)
            return self.send_json(200, body)
        return self.send_json(500, {"ok": False, "error": "unknown fault " + fault})


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
