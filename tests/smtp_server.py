#!/usr/bin/python3
"""A real SMTP server for the tests: Debian's python3-aiosmtpd on loopback.

Every accepted message is appended to --record as one JSON line {"mail_from",
"rcpt_tos", "data" (the message as received), "auth" (the user, if any)}.
--user/--password require AUTH PLAIN/LOGIN (aiosmtpd's authenticator; TLS not
required on loopback).  --fail-first N answers the first N DATA commands with
451 (transient), --reject answers every DATA with 550 (permanent).
Prints "PORT n"; exits when stdin closes.
"""
import argparse
import json
import socket
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("--record", required=True)
ap.add_argument("--user")
ap.add_argument("--password")
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--reject", action="store_true")
args = ap.parse_args()
state = {"fails": args.fail_first}


class Handler:
    async def handle_DATA(self, server, session, envelope):
        if args.reject:
            return "550 5.7.1 Message rejected by the test server"
        if state["fails"] > 0:
            state["fails"] -= 1
            return "451 4.3.0 Try again later"
        with open(args.record, "a") as f:
            f.write(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "data": envelope.original_content.decode("utf-8", "replace"),
                                "auth": getattr(session, "revops_user", None)}) + "\n")
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    ok = auth_data.login.decode() == args.user and auth_data.password.decode() == args.password
    if ok:
        session.revops_user = auth_data.login.decode()
    return AuthResult(success=ok, handled=False)


s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
kw = {}
if args.user:
    kw = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
ctl = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
ctl.start()
print("PORT %d" % port, flush=True)
sys.stdin.read()
ctl.stop()
