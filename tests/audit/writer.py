"""A writer process for the crash and multi-process tests.

Writes records from several threads and prints ``ack <writer> <thread> <i> <seq>`` on stdout
after each ``record()`` returns, so the parent knows exactly which records were acknowledged
before it killed this process.
"""

from __future__ import annotations

import argparse
import os
import random
import threading

from kaizen_otel.audit import AuditTrail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--name", default="w")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--big-every", type=int, default=0, help="every Nth record carries ~256 KiB")
    parser.add_argument("--rotate-bytes", type=int, default=0)
    parser.add_argument("--key", default="")
    parser.add_argument("--no-close", action="store_true")
    args = parser.parse_args()
    trail = AuditTrail(
        args.path,
        key=args.key or None,
        rotate_bytes=args.rotate_bytes,
        rotate_seconds=0,
        seal_records=50,
        seal_seconds=0,
    )
    os.write(1, b"ready\n")
    rng = random.Random(os.getpid())

    def work(thread: int) -> None:
        for i in range(args.records):
            details = {"i": i, "thread": thread}
            if args.big_every and rng.randrange(args.big_every) == 0:
                details["blob"] = "x" * rng.randrange(64 * 1024, 256 * 1024)
            entry = trail.record(args.name, "tool_execute", details, user_id=f"user-{thread}")
            os.write(1, f"ack {args.name} {thread} {i} {entry.seq}\n".encode())

    threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not args.no_close:
        trail.close()
    os.write(1, b"done\n")


if __name__ == "__main__":
    main()
