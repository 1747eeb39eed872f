"""The demo agent behind ``kaizen-otel demo`` and ``make demo``.

A supervisor starts several worker agents in threads (their runs join the supervisor's trace).
Each worker loops: a deterministic fake LLM decides, tools run (``fetch_url`` fails now and then),
and the researcher's run budget gets crossed so the enforce mode refuses its next LLM call. Every
signal goes where the embedded defaults send it; the end of the run prints where that is and a
summary: spans, tokens, cost, tool success rate, audit records written and verified.

Nothing here calls a real model: the fake LLM's answers and token counts come from a seeded
random generator, so two runs with the same seed report the same tokens and cost.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from kaizen_otel import genai  # lazy: the helpers load when the demo runs, not for `--help`
from kaizen_otel.exceptions import BudgetExceededError, KaizenConfigError

__all__ = ["add_arguments", "main", "run"]


@dataclass(frozen=True)
class AgentSpec:
    name: str
    provider: str
    model: str
    tokens_in: tuple[int, int]
    tokens_out: tuple[int, int]


AGENTS = (
    AgentSpec("researcher", "openai", "gpt-4o", (1500, 4000), (300, 900)),
    AgentSpec("planner", "anthropic", "claude-3-5-haiku", (600, 1500), (100, 300)),
    AgentSpec("coder", "gcp.gemini", "gemini-2.0-flash", (800, 2500), (200, 800)),
    AgentSpec("reviewer", "openai", "gpt-4o-mini", (500, 1200), (50, 200)),
)
TOOLS = ("search", "calculator", "fetch_url")


class FakeLLM:
    """A deterministic stand-in for a chat model: picks tools and reports token usage."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def chat(self, spec: AgentSpec) -> dict[str, Any]:
        time.sleep(self._rng.uniform(0.002, 0.012))
        tools = self._rng.sample(TOOLS, self._rng.randint(1, 2))
        return {
            "model": spec.model,
            "tools": tools,
            "usage": {
                "input_tokens": self._rng.randint(*spec.tokens_in),
                "output_tokens": self._rng.randint(*spec.tokens_out),
            },
            "finish_reason": "tool_calls",
        }

    def tool_fails(self, tool: str) -> bool:
        return tool == "fetch_url" and self._rng.random() < 0.25


def _run_tool(llm: FakeLLM, name: str, call_id: str) -> str:
    with genai.tool_call(name, call_id=call_id):
        time.sleep(0.001)
        if llm.tool_fails(name):
            raise ConnectionError(f"{name}: connection reset")
        return "ok"


def _worker(spec: AgentSpec, index: int, iterations: int, seed: int, progress: _Progress) -> str:
    llm = FakeLLM(seed * 1000 + index)
    with genai.agent_run(spec.name, agent_id=f"{spec.name}-{index}", conversation_id=f"demo-{seed}") as run:
        for step in range(iterations):
            try:
                with run.iteration():
                    with genai.llm_call(spec.provider, spec.model, max_tokens=1024) as call:
                        answer = llm.chat(spec)
                        call.record_usage(**answer["usage"])
                        call.set_response(model=answer["model"], finish_reasons=[answer["finish_reason"]])
                    for n, tool in enumerate(answer["tools"]):
                        try:
                            _run_tool(llm, tool, f"{spec.name}-{step}-{n}")
                        except ConnectionError:
                            continue  # the helper logged and counted it; the agent carries on
            except BudgetExceededError as exc:
                run.log(f"stopping: {exc}", level="warning")
                progress.advance(iterations - step)
                return "stopped by budget"
            progress.advance(1)
    return "done"


class _Progress:
    """A progress bar on stderr (one line redrawn on a terminal, a line per 10 % otherwise)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.done = 0
        self._stream = stream
        self._lock = threading.Lock()
        self._tty = stream.isatty()
        self._last_decile = -1

    def advance(self, n: int) -> None:
        with self._lock:
            self.done = min(self.done + n, self.total)
            fraction = self.done / self.total
            if self._tty:
                filled = int(fraction * 30)
                self._stream.write(
                    f"\r  [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} "
                    f"{self.done}/{self.total} agent steps"
                )
                if self.done == self.total:
                    self._stream.write("\n")
            elif int(fraction * 10) > self._last_decile:
                self._last_decile = int(fraction * 10)
                self._stream.write(f"  progress: {fraction:4.0%} ({self.done}/{self.total} agent steps)\n")
            self._stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaizen-otel demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options, on its own parser and on ``kaizen-otel demo``'s."""
    parser.add_argument("--iterations", type=int, default=25, help="loop iterations per agent (default 25)")
    parser.add_argument("--agents", type=int, default=3, help=f"worker agents, 1-{len(AGENTS)} (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fake LLM (default 7)")
    parser.add_argument(
        "--budget-usd",
        type=float,
        default=0.05,
        help="enforced run budget per agent in USD (default 0.05: the researcher crosses it)",
    )
    parser.add_argument("--audit-path", default=None, help="audit file (default: a new temporary folder)")
    parser.add_argument("--port", type=int, default=None, help="port of /metrics (default: the setting's)")
    parser.add_argument("--service-name", default="kaizen-demo", help="service.name (default kaizen-demo)")
    parser.add_argument(
        "--hold",
        type=float,
        default=2.0,
        help="seconds to keep /metrics up after the run, for a scrape; Ctrl-C ends it early (default 2)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="supervisor runs, one after the other (default 1)"
    )
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between rounds (default 2)")


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.agents <= len(AGENTS):
        raise KaizenConfigError("--agents", args.agents, f"an integer from 1 to {len(AGENTS)}")
    if args.iterations < 1:
        raise KaizenConfigError("--iterations", args.iterations, "an integer >= 1")
    if args.hold < 0:
        raise KaizenConfigError("--hold", args.hold, "a number >= 0")
    if args.rounds < 1:
        raise KaizenConfigError("--rounds", args.rounds, "an integer >= 1")
    if args.pause < 0:
        raise KaizenConfigError("--pause", args.pause, "a number >= 0")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    return run(_parser().parse_args(list(argv) if argv is not None else None))


def run(args: argparse.Namespace) -> int:
    """Run the demo with parsed options (from :func:`add_arguments`)."""
    try:
        _check(args)
    except KaizenConfigError as exc:
        print(f"kaizen-otel demo: {exc}", file=sys.stderr)
        return 2
    import kaizen_otel

    audit_path = args.audit_path or os.path.join(tempfile.mkdtemp(prefix="kaizen-demo-"), "audit.jsonl")
    overrides: dict[str, Any] = {
        "service_name": args.service_name,
        "enable_audit": True,
        "audit_path": audit_path,
        "budget_run_usd": args.budget_usd,
        "budget_enforce": True,
    }
    if args.port is not None:
        overrides["prometheus_port"] = args.port
    try:
        obs = kaizen_otel.configure(**overrides)
    except (KaizenConfigError, OSError) as exc:
        print(f"kaizen-otel demo: {exc}", file=sys.stderr)
        return 2
    hook = genai.AuditHook(events=[genai.HookEvent.POST_TOOL_USE, genai.HookEvent.POST_AGENT_LOOP])
    genai.get_hook_manager().register_hook(hook)
    if obs.live_view_url:
        print(f"  live view: {obs.live_view_url}", file=sys.stderr, flush=True)
    try:
        outcomes: dict[str, str] = {}
        for round_ in range(args.rounds):
            if round_:
                time.sleep(args.pause)
            outcomes = _run_agents(args, round_)
        if args.hold and obs.metrics_url:
            _hold(obs.live_view_url or obs.metrics_url, args.hold)
        summary = genai.usage_summary()
    finally:
        genai.get_hook_manager().unregister(hook)
    where = _Where.of(obs)
    audit = obs.audit
    # Shutting down flushes every signal and closes the audit trail, which writes its closing seal;
    # verifying afterwards checks the finished file, seal included, as an auditor later would.
    obs.shutdown()
    report = audit.verify() if audit is not None else None
    _print_summary(where, summary, outcomes, audit_path, report)
    return 0 if report is None or report.ok else 1


def _hold(url: str, seconds: float) -> None:
    """Keep ``/metrics`` and the live view up; SIGINT (Ctrl-C) or SIGTERM ends the wait, not the demo."""
    print(f"  keeping {url} up for {seconds:g} s (Ctrl-C to go on)", file=sys.stderr, flush=True)
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        if stop.wait(seconds):
            print("  hold ended by a signal: finishing", file=sys.stderr, flush=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@dataclass(frozen=True)
class _Where:
    """Where the signals went, read before shutdown closes the server."""

    metrics_url: str | None
    live_view_url: str | None
    metrics_exporter: tuple[str, ...]
    traces_exporter: tuple[str, ...]
    logs_exporter: tuple[str, ...]

    @classmethod
    def of(cls, obs: Any) -> _Where:
        settings = obs.settings
        return cls(
            obs.metrics_url,
            obs.live_view_url,
            tuple(settings.metrics_exporter),
            tuple(settings.traces_exporter),
            tuple(settings.logs_exporter),
        )


def _run_agents(args: argparse.Namespace, round_: int = 0) -> dict[str, str]:
    specs = AGENTS[: args.agents]
    seed = args.seed + round_
    progress = _Progress(args.iterations * len(specs), sys.stderr)
    outcomes: dict[str, str] = {}
    print(
        f"kaizen_otel demo: {len(specs)} agents x {args.iterations} iterations, seed {seed}",
        file=sys.stderr,
    )
    with genai.agent_run("supervisor", agent_id=f"supervisor-{round_}", conversation_id=f"demo-{seed}"):

        def work(spec: AgentSpec, index: int) -> None:
            outcomes[spec.name] = _worker(spec, index, args.iterations, seed, progress)

        threads = [
            threading.Thread(target=genai.bind_context(work), args=(spec, i), name=f"agent-{spec.name}")
            for i, spec in enumerate(specs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return outcomes


def _print_summary(
    where: _Where, summary: dict[str, Any], outcomes: dict[str, str], audit_path: str, report: Any
) -> None:
    spans = summary.get("agent_runs", 0) + summary.get("llm_calls", 0) + summary.get("tool_calls", 0)
    tool_calls = summary.get("tool_calls", 0)
    tool_ok = tool_calls - summary.get("tool_errors", 0)
    rate = tool_ok / tool_calls if tool_calls else 1.0
    out = sys.stdout
    out.write("\nwhere each signal went\n")
    out.write(
        f"  metrics  {where.metrics_url or 'no /metrics endpoint'}"
        f"  (exporters: {', '.join(where.metrics_exporter)})\n"
    )
    hint = "  (set OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector)"
    out.write(
        f"  spans    exporters: {', '.join(where.traces_exporter)}"
        f"{hint if where.traces_exporter == ('none',) else ''}\n"
    )
    out.write(f"  logs     exporters: {', '.join(where.logs_exporter)} (console = JSON lines on stderr)\n")
    out.write(f"  audit    {audit_path}\n")
    if where.live_view_url:
        out.write(f"  live     {where.live_view_url} (runs, span trees, cost; up while the demo ran)\n")
    out.write("\nsummary\n")
    out.write(f"  agents         {', '.join(f'{k}: {v}' for k, v in sorted(outcomes.items()))}\n")
    out.write(
        f"  spans          {spans} ({summary.get('agent_runs', 0)} agent runs, "
        f"{summary.get('llm_calls', 0)} LLM calls, {tool_calls} tool calls)\n"
    )
    out.write(
        f"  tokens         {summary.get('input_tokens', 0)} input, {summary.get('output_tokens', 0)} output\n"
    )
    out.write(
        f"  cost           ${summary.get('cost_usd', 0.0):.4f} "
        f"(prices of {summary.get('pricing_taken', '?')})\n"
    )
    out.write(f"  tool success   {rate:.1%} ({tool_ok}/{tool_calls})\n")
    out.write(
        f"  budget         {summary.get('budget_crossings', 0)} crossed, "
        f"{summary.get('llm_errors', 0)} LLM calls refused or failed\n"
    )
    if report is not None:
        if report.ok:
            verdict = "verified" + (
                " (seal HMACs checked)" if report.key_checked else " (hash chain; no HMAC key)"
            )
        else:
            verdict = f"NOT verified: {report.problems[:1]}"
        seals = f"{report.seals} seal{'' if report.seals == 1 else 's'}"
        out.write(f"  audit records  {report.records} written, {seals}, {verdict}\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
