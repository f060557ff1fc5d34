"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, writing each
message it accepts to OUTDIR/<n>.eml (atomically), and printing "ready"
once it listens.  Usage: smtp_sink.py PORT OUTDIR; with OUTDIR "-" it only
counts what it accepts (bench/run), printing the count when stopped."""
import asyncio
import os
import signal
import sys
import threading
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir

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
        return "250 OK"


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    if outdir != "-":
        os.makedirs(outdir, exist_ok=True)
    sink = Sink(outdir)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
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
