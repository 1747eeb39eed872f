"""Every code example of the source documents that uses the observability API, run as written.

The examples are collected from the documents themselves (verbatim copies in ``seeds/``). Each is
adapted only as a user would: ``kaizen.*`` imports become ``from kaizen_otel import ...``; names the
documents' framework provides (``BaseAgent``, ``Signature``, ``config``) come from a minimal agent
class with :class:`~kaizen_otel.ObservabilityMixin`; names an example takes from an earlier one
(``obs``, ``agent``, ``manager``, ``hook``) are made the way the documents make them; the Jaeger
host and port point at the session's OTLP receiver (rotel); a ten-minute ``sleep`` becomes 50 ms.
Then the example runs, top-level ``await`` included, and its printed or asserted results are
checked. Examples that cannot run are listed in ``CANNOT_RUN`` with the reason, and reported as
skipped with it (``pytest -ra`` prints the list).
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import dataclasses
import inspect
import io
import json
import os
import random
import re
import statistics
import textwrap
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import kaizen_otel
from kaizen_otel import (
    AuditTrailManager,
    FileAuditStorage,
    HookContext,
    HookEvent,
    HookManager,
    MetricsCollector,
    ObservabilityManager,
    ObservabilityMixin,
    StructuredLogger,
    TracingHook,
    TracingManager,
)
from tests.compat.test_metrics import _value
from tests.testbed.servers import Rotel

SEEDS = Path(__file__).resolve().parent / "seeds"
#: An example uses the API when it names one of these.
API = re.compile(
    r"ObservabilityManager|MetricsCollector|AuditTrailManager|FileAuditStorage|TracingManager|"
    r"TracingHook|StructuredLogger|LoggingManager|AuditEntry|enable_observability|\bobs\.|\.observability\.|"
    r"\bhook\.handle|_hook_manager"
)
IMPORT = re.compile(r"^(\s*)from kaizen(?:\.[\w.]+)? import (.+)$")

CANNOT_RUN: dict[str, str] = {
    "000#12": "the API reference's signature listing (no method bodies); test_the_api_reference_"
    "signatures_exist checks every method and parameter it names",
    "000#13": "the API reference's signature listing of MetricsCollector; checked by "
    "test_the_api_reference_signatures_exist",
    "000#14": "the API reference's signature listing of StructuredLogger; checked by "
    "test_the_api_reference_signatures_exist",
    "000#15": "the API reference's signature listing of AuditTrailManager; checked by "
    "test_the_api_reference_signatures_exist",
    "000#26": "elides its arguments with `...` after keywords, which is not valid Python as written",
    "002#07": "queries Jaeger's HTTP API through the documents' tests.utils.docker_config; the same "
    "round trip against a real OTLP receiver is test_agent.py's",
    "003#00": "ADR-017's sketch of the documents' own dataclasses; kaizen_otel.AuditEntry is the "
    "entry (test_audit.py checks the fields the documents name)",
    "003#01": "ADR-017's sketch of MetricsCollector itself, keeping every value in lists; "
    "kaizen_otel.MetricsCollector replaces it",
    "003#02": "ADR-017's sketch of StructuredLogger/LoggingManager; kaizen_otel.get_logger replaces it",
    "003#03": "ADR-017's sketch of TracingManager (console exporter, a global provider per instance); "
    "kaizen_otel.TracingManager replaces it",
    "003#04": "ADR-017's sketch of FileAuditStorage/AuditTrailManager; kaizen_otel's are over AuditTrail",
    "003#05": "ADR-017's sketch of ObservabilityManager; kaizen_otel.ObservabilityManager replaces it",
    "003#06": "ADR-017's BaseAgent sketch subclasses the documents' Node framework and calls "
    "tracing.span(), which the shipped documents (000, 002) replaced with hooks",
    "003#07": "unit tests of the sketch's internals (collector._counters) and an AuditEntry built "
    "with a caller-chosen timestamp, which a write-ordered hash chain does not accept",
    "003#08": "needs the documents' framework creating observability inside BaseAgent.__init__ "
    "(agent.observability); test_agent.py runs the same checks through enable_observability()",
}


# --- collecting ----------------------------------------------------------------------------------


@dataclass
class Example:
    id: str
    source: str


def collect() -> list[Example]:
    """Every ```python block of the documents that uses the API, as ``NNN#II`` (file, block)."""
    found = []
    for path in sorted(SEEDS.glob("0*.txt")):
        blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
        for index, block in enumerate(blocks):
            if API.search(block):
                found.append(Example(f"{path.name[:3]}#{index:02d}", block))
    return found


EXAMPLES = collect()


# --- the documents' framework, minimal -----------------------------------------------------------


class Signature:
    """Stand-in for ``kaizen.signatures.Signature``: fields are declarations only."""


def InputField(description: str = "") -> None:  # the documents' name
    return None


OutputField = InputField


class BaseAgent(ObservabilityMixin):
    """The smallest agent the examples need: an id, and a run() that calls one tool."""

    def __init__(self, config: Any = None, signature: Any = None, agent_id: str | None = None) -> None:
        self.config = config
        self.signature = signature
        self.agent_id = agent_id or type(self).__name__

    def run(self, **inputs: Any) -> dict[str, Any]:
        self._hook_manager.trigger_sync(HookEvent.PRE_TOOL_USE, self.agent_id, {"tool_name": "search"})
        self._hook_manager.trigger_sync(HookEvent.POST_TOOL_USE, self.agent_id, {"tool_name": "search"})
        return {"answer": f"an answer to {inputs}"}


class SupervisorAgent(BaseAgent):
    pass


class WorkerAgent(BaseAgent):
    pass


async def call_llm() -> dict[str, str]:
    await asyncio.sleep(0.001)
    return {"answer": "42"}


# --- adapting and running ------------------------------------------------------------------------


def adapt(source: str, port: int) -> str:
    """The example with our import paths and the receiver's address; nothing else changes."""
    lines = []
    for line in textwrap.dedent(source).splitlines():
        match = IMPORT.match(line)
        if match:
            indent, names = match.group(1), [n.strip() for n in match.group(2).split(",")]
            ours = [n for n in names if n in kaizen_otel.__all__]
            line = f"{indent}from kaizen_otel import {', '.join(ours)}" if ours else f"{indent}pass"
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r'jaeger_host="[^"]*"', 'jaeger_host="127.0.0.1"', text)
    text = re.sub(r"jaeger_port=\d+", f"jaeger_port={port}", text)
    return text.replace("time.sleep(600)", "time.sleep(0.05)").replace("time.sleep(2)", "time.sleep(0)")


def _free_names(code: str) -> set[str]:
    """Names the example reads but never assigns (what it takes from earlier examples)."""
    tree = compile(code, "<example>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    loaded, stored = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((a.asname or a.name).split(".")[0] for a in node.names)
    return loaded - stored - set(dir(builtins))


@dataclass
class Run:
    """What one example left behind, for its checks."""

    ns: dict[str, Any]
    stdout: str
    rotel: Rotel
    tmp_path: Path
    stderr: str = ""
    made: list[Any] = field(default_factory=list)

    def spans(self, name: str, count: int = 1) -> list[dict[str, Any]]:
        return self.rotel.wait_for(lambda r: r["signal"] == "span" and r["name"] == name, count=count)


def _manager(ctx: dict[str, Any]) -> TracingManager:
    return TracingManager(service_name="my-service", jaeger_host="127.0.0.1", jaeger_port=ctx["port"])


def _context(event: HookEvent) -> Callable[[dict[str, Any]], HookContext]:
    return lambda ctx: HookContext(event, "qa-agent", trace_id=ctx["trace_id"], data={"tool_name": "load"})


#: How an example's free names are made, the way the documents make them.
FACTORIES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "agent": lambda ctx: BaseAgent(config=None, signature=None, agent_id="qa-agent"),
    "critical_agent": lambda ctx: BaseAgent(agent_id="critical-agent"),
    "dev_agent": lambda ctx: BaseAgent(agent_id="dev-agent"),
    "batch_agent": lambda ctx: BaseAgent(agent_id="batch-agent"),
    "obs": lambda ctx: ObservabilityManager(service_name="qa-agent"),
    "manager": _manager,
    "hook": lambda ctx: TracingHook(tracing_manager=ctx["manager"]),
    "tracing_hook": lambda ctx: TracingHook(tracing_manager=ctx["manager"]),
    "trace_id": lambda ctx: ctx["trace_id"],
    "pre_context": _context(HookEvent.PRE_TOOL_USE),
    "post_context": _context(HookEvent.POST_TOOL_USE),
}
PRELUDE: dict[str, Any] = {
    "asyncio": asyncio,
    "asdict": dataclasses.asdict,
    "datetime": datetime,
    "timedelta": timedelta,
    "json": json,
    "os": os,
    "random": random,
    "time": time,
    "mean": statistics.mean,
    "config": None,
    "signature": None,
    "BaseAgent": BaseAgent,
    "Signature": Signature,
    "InputField": InputField,
    "OutputField": OutputField,
    "SupervisorAgent": SupervisorAgent,
    "WorkerAgent": WorkerAgent,
    "call_llm": call_llm,
    # What the documents import in an earlier example of the same page:
    "FileAuditStorage": FileAuditStorage,
    "HookContext": HookContext,
    "HookEvent": HookEvent,
    "HookManager": HookManager,
    "ObservabilityManager": ObservabilityManager,
    "TracingHook": TracingHook,
    "TracingManager": TracingManager,
}


def _provide(names: set[str], port: int) -> tuple[dict[str, Any], list[Any]]:
    ns: dict[str, Any] = {"__name__": "seed_example", **PRELUDE}
    ctx: dict[str, Any] = {"port": port, "trace_id": uuid.uuid4().hex}
    made = []
    for name in ("manager", "agent"):  # what other factories need, first
        if name in names or (name == "manager" and names & {"hook", "tracing_hook"}):
            ctx[name] = FACTORIES[name](ctx)
    for name in [n for n in FACTORIES if n in names]:  # in FACTORIES' order: PRE before POST
        ns[name] = ctx[name] if name in ctx else FACTORIES[name](ctx)
        made.append(ns[name])
    return ns, made


def run_example(example: Example, rotel: Rotel, tmp_path: Path) -> Run:
    code = adapt(example.source, rotel.grpc_port)
    ns, made = _provide(_free_names(code), rotel.grpc_port)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = eval(compile(code, example.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), ns)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    return Run(ns, output.getvalue(), rotel, tmp_path, made=made)


def _close(run: Run) -> None:
    """Clean up what the example left, as the documents ask (cleanup, shutdown)."""
    for value in [*run.ns.values(), *run.made]:
        if isinstance(value, ObservabilityMixin):
            value.cleanup()
        elif isinstance(value, (ObservabilityManager, TracingManager)):
            value.shutdown()


# --- what each example's results must be ---------------------------------------------------------


ENTRY_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00: tool_execute - success$")


def _check_entries_printed(run: Run) -> None:
    lines = run.stdout.splitlines()
    assert lines and all(ENTRY_LINE.match(line) for line in lines), run.stdout


def _check_qa_agent_traced(run: Run) -> None:
    name = run.ns["obs"].get_service_name()
    (span,) = run.spans(f"invoke_agent {name}")
    assert span["service_name"] == name
    (tool,) = run.spans("execute_tool search")
    assert tool["parent_span_id"] == span["span_id"]


def _check_custom_metrics(run: Run) -> None:
    text = run.ns["metrics_text"]
    assert _value(text, "api_calls_total", provider="openai", model="gpt-4") == 1.0
    assert _value(text, "memory_bytes", agent_id="qa-agent") == 1024000
    assert _value(text, "request_duration_ms_p50", operation="llm_call") == 150.5


def _check_printed_metrics(run: Run) -> None:
    # The documents print: requests_total{status="success",endpoint="/api/chat"} 1.0,
    # active_sessions{agent_id="qa-agent"} 42.0 and latency_ms_p50{operation="llm_call"} 250.5.
    assert _value(run.stdout, "requests_total", status="success", endpoint="/api/chat") == 1.0
    assert _value(run.stdout, "active_sessions", agent_id="qa-agent") == 42.0
    assert _value(run.stdout, "latency_ms_p50", operation="llm_call") == 250.5


def _check_structured_log(run: Run) -> None:
    records = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    (record,) = [r for r in records if r.get("message") == "Processing question"]
    assert record["level"] == "INFO"
    assert record["context"] == {
        "agent_id": "qa-agent",
        "session_id": "session-123",
        "user_id": "user@example.com",
        "question": "What is AI?",
        "estimated_tokens": 100,
    }
    assert set(record) >= {"timestamp", "level", "message", "context", "trace_id", "span_id"}


def _check_lite(run: Run) -> None:
    assert run.ns["obs"].get_enabled_components() == ["metrics", "logging", "tracing", "audit"]
    assert run.ns["obs_lite"].get_enabled_components() == ["metrics", "logging"]
    assert run.ns["obs"].closed


def _check_cleared_context(run: Run) -> None:
    logger = run.ns["logger"]
    assert isinstance(logger, StructuredLogger) and logger.get_context() == {}


def _check_audit_queries(run: Run) -> None:
    assert [(e.action, e.result) for e in run.ns["by_agent"]] == [
        ("tool_execute", "success"),
        ("permission_request", "denied"),
    ]
    (denied,) = [e for e in run.ns["by_agent"] if e.result == "denied"]
    assert denied.metadata == {"reason": "insufficient_privileges"}
    assert len(run.ns["by_action"]) == 1


def _check_selective(run: Run) -> None:
    # The documents' comment (['metrics', 'logging']) describes the first of the three calls; the
    # printed line is the last call's manager, the audit-only one.
    assert run.stdout == "Enabled: ['audit']\n"


def _check_modes(run: Run) -> None:
    components = {
        name: run.ns[name]._observability_manager.get_enabled_components()
        for name in ("critical_agent", "dev_agent", "batch_agent")
    }
    assert components == {
        "critical_agent": ["metrics", "logging", "tracing", "audit"],
        "dev_agent": ["metrics", "logging"],
        "batch_agent": ["metrics"],
    }


def _check_cleanup(run: Run) -> None:
    assert run.ns["agent"]._observability_manager is None and run.ns["obs"].closed
    assert "answer" in run.ns["result"]


def _check_test_metric(run: Run) -> None:
    assert "test_metric" in run.stdout
    assert _value(run.stdout, "test_metric_total") == 1.0


def _check_daily_storage(run: Run) -> None:
    storage = run.ns["storage"]
    assert run.ns["obs"].audit.storage is storage
    assert Path(storage.file_path).parent == run.tmp_path / "home" / ".kaizen"


def _check_archive(run: Run) -> None:
    assert (run.tmp_path / "archive.jsonl").read_text() == ""  # nothing is 90 days old yet


def _check_example_1(run: Run) -> None:
    text = run.ns["obs"].metrics.export_text()
    assert _value(text, "questions_answered_total", topic="kaizen") == 1.0
    run.spans("invoke_agent qa-agent")


def _check_example_2(run: Run) -> None:
    text = run.ns["obs"].metrics.export_text()
    assert _value(text, "llm_call_duration_ms_count", model="gpt-4") == 1.0
    assert _value(text, "cache_misses_total", cache_type="memory") == 1.0
    assert run.ns["result"] == {"answer": "42"}


def _check_example_3(run: Run) -> None:
    assert [e.action for e in run.ns["recent"]] == ["pii_access"]
    assert len(run.ns["user_actions"]) == len(run.ns["pii_accesses"]) == 1


def _check_overhead(run: Run) -> None:
    assert re.fullmatch(r"Real-world overhead: -?\d+\.\d\d%\n", run.stdout), run.stdout


def _check_my_agent_traced(run: Run) -> None:
    run.spans("invoke_agent my-agent")


def _check_multi_agent(run: Run) -> None:
    names = [run.ns[a]._observability_manager.get_service_name() for a in ("agent1", "agent2")]
    assert names == ["SupervisorAgent", "WorkerAgent"]


def _check_long_running(run: Run) -> None:
    (span,) = run.spans("execute_tool tool")
    assert span["end_time_unix_nano"] - span["start_time_unix_nano"] >= 50_000_000
    assert span["attributes"]["kaizen.hook.data.status"] == "completed"


def _check_pre_post(run: Run) -> None:
    (span,) = run.spans("execute_tool load")
    assert span["end_time_unix_nano"] >= span["start_time_unix_nano"]


CHECKS: dict[str, Callable[[Run], None]] = {
    "000#00": _check_qa_agent_traced,
    "000#01": _check_qa_agent_traced,
    "000#02": _check_custom_metrics,
    "000#03": _check_structured_log,
    "000#04": _check_entries_printed,
    "000#05": _check_lite,
    "000#08": _check_printed_metrics,
    "000#09": _check_cleared_context,
    "000#10": _check_audit_queries,
    "000#11": _check_selective,
    "000#16": _check_modes,
    "000#21": _check_cleanup,
    "000#23": _check_test_metric,
    "000#30": _check_daily_storage,
    "000#31": _check_archive,
    "000#32": _check_example_1,
    "000#33": _check_example_2,
    "000#34": _check_example_3,
    "001#00": _check_qa_agent_traced,
    "001#03": _check_entries_printed,
    "001#04": _check_overhead,
    "002#00": _check_my_agent_traced,
    "002#09": _check_multi_agent,
    "002#10": _check_long_running,
    "002#13": _check_pre_post,
}
#: Examples whose structured log lines the check reads from the console exporter.
CONSOLE_LOGS = {"000#03"}


# --- the tests -----------------------------------------------------------------------------------


def test_every_example_that_uses_the_api_is_run_or_listed_with_a_reason() -> None:
    ids = {example.id for example in EXAMPLES}
    assert len(ids) >= 50
    assert set(CANNOT_RUN) <= ids, sorted(set(CANNOT_RUN) - ids)
    assert set(CHECKS) <= ids - set(CANNOT_RUN), sorted(set(CHECKS) - ids)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_example_runs_and_its_results_hold(
    example: Example,
    rotel: Rotel,
    tmp_path: Path,
    compat_env: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    if example.id in CANNOT_RUN:
        pytest.skip(f"cannot run: {CANNOT_RUN[example.id]}")
    for name, value in rotel.otlp_env("grpc").items():
        compat_env.setenv(name, value)
    compat_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    compat_env.setenv("HOME", str(tmp_path / "home"))
    compat_env.chdir(tmp_path)
    if example.id in CONSOLE_LOGS:
        compat_env.setenv("KAIZEN_OTEL_LOGS_EXPORTER", "console")
    rotel.clear()
    run = run_example(example, rotel, tmp_path)
    try:
        handle = kaizen_otel.get_observability()
        if handle is not None:
            handle.force_flush()
        run.stderr = capfd.readouterr().err
        CHECKS.get(example.id, lambda run: None)(run)
    finally:
        _close(run)


# --- the API reference, method by method -----------------------------------------------------------


REFERENCE_CLASSES = {
    "ObservabilityManager": ObservabilityManager,
    "MetricsCollector": MetricsCollector,
    "StructuredLogger": StructuredLogger,
    "AuditTrailManager": AuditTrailManager,
}
DEF = re.compile(r"(async\s+)?def\s+(\w+)\s*\((.*?)\)\s*(?:->[^\n]*)?$", re.S | re.M)


def _parameters(text: str) -> list[str]:
    names = []
    for part in re.split(r",(?![^\[]*\])", text):
        name = part.split(":")[0].split("=")[0].strip().lstrip("*")
        if name and name != "self":
            names.append(name)
    return names


def _reference() -> list[tuple[str, str, bool, list[str]]]:
    """(class, method, async, parameters) of every method the user guide's API reference lists."""
    text = (SEEDS / "000_4e726d60f988d89e.txt").read_text()
    section = text[text.index("## API Reference") : text.index("## Grafana Dashboards")]
    found = []
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        owner = re.search(r"class (\w+)", block)
        assert owner is not None
        for match in DEF.finditer(block):
            found.append((owner.group(1), match.group(2), bool(match.group(1)), _parameters(match.group(3))))
    return found


def test_the_api_reference_signatures_exist() -> None:
    reference = _reference()
    assert len(reference) >= 25
    for owner, method, is_async, parameters in reference:
        cls = REFERENCE_CLASSES[owner]
        function = getattr(cls, method)
        accepted = inspect.signature(function).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        for name in parameters:
            assert name in accepted or takes_any, f"{owner}.{method} lacks parameter {name!r}"
        if method != "timer":  # an @asynccontextmanager: called without await, entered with async with
            assert inspect.iscoroutinefunction(function) == is_async, f"{owner}.{method} async-ness"


def test_the_tracing_reference_constructors_and_methods_exist() -> None:
    text = (SEEDS / "002_213b5f7f509d2aa8.txt").read_text()
    section = text[text.index("## API Reference") : text.index("## Resources")]
    owners = {"TracingManager": TracingManager, "TracingHook": TracingHook, "BaseAgent": BaseAgent}
    checked = 0
    for part in re.split(r"^### ", section, flags=re.M)[1:]:
        cls = owners[part.split("\n", 1)[0].strip()]
        constructor, _, rest = part.partition("**Methods**")
        methods, _, attributes = rest.partition("**Attributes**")
        for name in re.findall(r"^- `(\w+)` \(", constructor, re.M):
            assert name in inspect.signature(cls.__init__).parameters, f"{cls.__name__}({name}=)"
            checked += 1
        for method, args in re.findall(r"^- `(\w+)\((.*?)\)`", methods, re.M):
            accepted = inspect.signature(getattr(cls, method)).parameters
            for name in _parameters(args):
                assert name in accepted, f"{cls.__name__}.{method}({name})"
            checked += 1
        for attribute in re.findall(r"^- `(\w+)` \(", attributes, re.M):
            assert hasattr(cls(), attribute), f"{cls.__name__}.{attribute}"
            checked += 1
    assert checked >= 15
