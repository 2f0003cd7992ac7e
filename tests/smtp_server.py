#!/usr/bin/python3
"""A real SMTP server for the tests: Debian's python3-aiosmtpd on loopback.

Every accepted message is appended to --record as one JSON line {"mail_from",
"rcpt_tos", "data" (the message as received), "auth" (the user, if any)}.
--user/--password require AUTH PLAIN/LOGIN (aiosmtpd's authenticator; TLS not
required on loopback).  --fail-first N answers the first N DATA commands with
451 (transient; --fail-code 421 for "service not available"), --reject answers
every DATA with 550 (permanent), --reject-rcpt ADDR (repeatable) answers RCPT TO
for that address with 550 5.1.1 (unknown user, RFC 5321 4.2.2 / RFC 3463).
--log FILE appends one JSON line per refusal {"refused", "code"} so a test can
count attempts that were answered but not accepted.
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
ap.add_argument("--fail-code", type=int, default=451)
ap.add_argument("--reject-rcpt", action="append", default=[])
ap.add_argument("--log")
args = ap.parse_args()
state = {"fails": args.fail_first}


def refused(what, code):
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps({"refused": what, "code": code}) + "\n")


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in [a.lower() for a in args.reject_rcpt]:
            refused("rcpt " + address, 550)
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if args.reject:
            refused("data", 550)
            return "550 5.7.1 Message rejected by the test server"
        if state["fails"] > 0:
            state["fails"] -= 1
            refused("data", args.fail_code)
            if args.fail_code == 421:
                return "421 4.3.2 Service not available, closing transmission channel"
            return "%d 4.3.0 Try again later" % args.fail_code
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
