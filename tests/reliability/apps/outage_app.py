"""An agent app for the outage tests: configure from the environment, run steps, then leave.

``python -m tests.reliability.apps.outage_app STEPS EXIT`` where EXIT is ``shutdown`` (call
``kaizen_otel.shutdown()`` and then exit) or ``atexit`` (just return: the interpreter's exit hook
shuts down). It prints one JSON line per phase on stdout, flushed, so the test can time each phase
from outside: ``{"phase": "steps", "seconds": ...}`` after the steps, ``{"phase": "exiting"}``
right before the exit path starts. ``cpu_per_step`` is the median over five blocks of the
app thread's own CPU time per step (``time.thread_time``): what the app pays, whatever the
exporter threads do, and little moved by other processes on the machine.
"""

from __future__ import annotations

import json
import sys
import time

import kaizen_otel


def step(i: int) -> None:
    with kaizen_otel.agent_run("outage-agent") as run:
        with kaizen_otel.llm_call("openai", "gpt-4o-mini") as call:
            call.record_usage(input_tokens=10, output_tokens=5)
        with kaizen_otel.tool_call("search"):
            pass
        kaizen_otel.get_logger("outage").info("step done", step=i)
        run.set_attribute("step", i)


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> int:
    steps, exit_path = int(sys.argv[1]), sys.argv[2]
    kaizen_otel.configure()
    started = time.perf_counter()
    blocks: list[float] = []  # CPU seconds of this (the app's) thread per block of steps
    block = max(1, steps // 5)
    for first in range(0, steps, block):
        cpu = time.thread_time()
        for i in range(first, min(steps, first + block)):
            step(i)
        blocks.append((time.thread_time() - cpu) / block)
    say(phase="steps", seconds=time.perf_counter() - started, cpu_per_step=sorted(blocks)[len(blocks) // 2])
    say(phase="exiting")
    if exit_path == "shutdown":
        began = time.perf_counter()
        kaizen_otel.shutdown()
        say(phase="shut down", seconds=time.perf_counter() - began)
    return 0


if __name__ == "__main__":
    sys.exit(main())
