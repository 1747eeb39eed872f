"""An app that forks after ``configure()``: ``python -m tests.reliability.apps.fork_app TAG MODE N``.

MODE ``os-fork``: the parent records 10 agent runs, then forks N children with ``os.fork()``; each
records 5 runs and leaves through ``sys.exit`` (the exit hook flushes). MODE ``multiprocessing``:
the same with ``multiprocessing`` fork-context processes, which leave through ``os._exit`` after
multiprocessing's own finalizers. Every process appends audit records to the one trail. The
parent prints ``{"phase": "done", "instances": [...]}`` with every ``service.instance.id``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys

import kaizen_otel


def runs(tag: str, count: int) -> None:
    for _ in range(count):
        with kaizen_otel.agent_run(f"fork-{tag}"):
            pass


def instance_id() -> str:
    obs = kaizen_otel.get_observability()
    assert obs is not None and obs.tracer_provider is not None
    return str(obs.tracer_provider.resource.attributes["service.instance.id"])


def child(tag: str, pipe: int) -> None:
    runs(tag, 5)
    obs = kaizen_otel.get_observability()
    assert obs is not None
    for i in range(3):
        obs.audit.record(f"child-{os.getpid()}", "tool_execute", {"i": i})
    os.write(pipe, (instance_id() + "\n").encode())


def main() -> int:
    tag, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    obs = kaizen_otel.configure()
    runs(tag, 10)
    obs.audit.record("parent", "tool_execute", {"before": "fork"})
    read_end, write_end = os.pipe()
    if mode == "os-fork":
        pids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                child(tag, write_end)
                sys.exit(0)
            pids.append(pid)
        statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    else:
        context = multiprocessing.get_context("fork")
        processes = [context.Process(target=child, args=(tag, write_end)) for _ in range(n)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        statuses = [process.exitcode or 0 for process in processes]
    os.close(write_end)
    with os.fdopen(read_end) as lines:
        children = lines.read().split()
    print(json.dumps({"phase": "done", "instances": [instance_id(), *children], "statuses": statuses}))
    print(json.dumps({"phase": "exiting"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
