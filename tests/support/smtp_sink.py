"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, writing each
message it accepts to OUTDIR/<n>.eml (atomically), and printing "ready"
once it listens.  Usage: smtp_sink.py PORT OUTDIR; with OUTDIR "-" it only
counts what it accepts (bench/run), printing the count when stopped.

SINK_TLS=implicit|starttls with SINK_CERT and SINK_KEY serves TLS (STARTTLS
then required); SINK_AUTH=user:password requires that login; SINK_DELAY=S
answers each message's DATA only after S seconds (a slow server), having
stored it first, as a real server commits before it answers."""
import asyncio
import os
import signal
import sys
import threading
import ssl
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.delay = float(os.environ.get("SINK_DELAY", "0"))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # a mailbox that does not exist: a permanent refusal
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.outdir == "-":
            self.count = getattr(self, "count", 0) + 1
            return "250 OK"
        name = os.path.join(self.outdir, uuid.uuid4().hex)
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name + ".eml")
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 OK"


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    if outdir != "-":
        os.makedirs(outdir, exist_ok=True)
    sink = Sink(outdir)
    kw = {}
    mode = os.environ.get("SINK_TLS")
    if mode:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(os.environ["SINK_CERT"], os.environ["SINK_KEY"])
        if mode == "implicit":
            kw["ssl_context"] = ctx
        else:
            kw["tls_context"] = ctx
            kw["require_starttls"] = True
    auth = os.environ.get("SINK_AUTH")
    if auth:
        user, password = auth.split(":", 1)

        def check(server, session, envelope, mechanism, data):
            ok = data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok)

        kw["authenticator"] = check
        kw["auth_required"] = True
        # (aiosmtpd 1.4 does not count implicit TLS as TLS for this check)
        kw["auth_require_tls"] = mode == "starttls"
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="localhost", **kw)
    controller.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()
    if outdir == "-":
        print(getattr(sink, "count", 0), flush=True)


if __name__ == "__main__":
    main()
