"""The demo agent against the real servers: Prometheus scrapes its GenAI and kaizen series with the
values the demo reports, and rotel receives its GenAI spans in the tree the code made.

The demo runs as a subprocess (`python -m kaizen_otel.demo`, what `kaizen-otel demo` runs), with a
unique service name and scrape job, because both servers are shared by the whole session.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.testbed.servers import Prometheus, Rotel, free_port

DEMO_ARGS = ["--iterations", "8", "--agents", "3", "--seed", "7"]
WORKERS = {"researcher", "planner", "coder"}
OPERATION_BUCKETS = {
    "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24",
    "20.48", "40.96", "81.92", "+Inf",
}  # fmt: skip
TOKEN_BUCKETS = {
    "1", "4", "16", "64", "256", "1024", "4096", "16384", "65536", "262144", "1048576", "4194304",
    "16777216", "67108864", "+Inf",
}  # fmt: skip
SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS_ERROR = 2


def _env(**extra: str) -> dict[str, str]:
    """The test process's environment without any OTel or kaizen_otel setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(extra)
    return env


def _start_demo(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "kaizen_otel.demo", *DEMO_ARGS, *args]
    command += ["--audit-path", str(tmp_path / "audit.jsonl")]
    # The child keeps its own copies of the descriptors; ours close when Popen returns.
    with open(tmp_path / "stdout.txt", "w") as out, open(tmp_path / "stderr.txt", "w") as err:
        return subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)


def _finish(proc: subprocess.Popen[str], tmp_path: Path, timeout: float = 20.0) -> dict[str, Any]:
    """Wait for the demo to exit successfully; return the numbers of its printed summary."""
    code = proc.wait(timeout=timeout)
    stdout = (tmp_path / "stdout.txt").read_text()
    assert code == 0, f"demo exited {code}\n{stdout}\n{(tmp_path / 'stderr.txt').read_text()[-3000:]}"
    return _summary(stdout)


def _summary(text: str) -> dict[str, Any]:
    spans = re.search(r"spans\s+(\d+) \((\d+) agent runs, (\d+) LLM calls, (\d+) tool calls\)", text)
    tokens = re.search(r"tokens\s+(\d+) input, (\d+) output", text)
    cost = re.search(r"cost\s+\$([0-9.]+)", text)
    tools = re.search(r"tool success\s+[0-9.]+% \((\d+)/(\d+)\)", text)
    assert spans and tokens and cost and tools, text
    return {
        "spans": int(spans[1]),
        "agent_runs": int(spans[2]),
        "llm_calls": int(spans[3]),
        "tool_calls": int(spans[4]),
        "input_tokens": int(tokens[1]),
        "output_tokens": int(tokens[2]),
        "cost_usd": float(cost[1]),
        "tools_ok": int(tools[1]),
        "text": text,
    }


def _wait_for_line(path: Path, needle: str, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text():
            return
        assert proc.poll() is None, f"demo exited early ({proc.returncode}): {path.read_text()[-2000:]}"
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in the demo's output after {timeout:.0f} s")


def test_prometheus_scrapes_the_demo_tokens_durations_cost_heartbeats_and_budgets(
    prometheus: Prometheus, tmp_path: Path
) -> None:
    """The series the demo exports reach a real Prometheus with the totals the demo prints."""
    job = f"demo-{uuid.uuid4().hex[:8]}"
    port = free_port()
    target = f"127.0.0.1:{port}"
    prometheus.add_target(target, job=job)
    started = time.time()
    proc = _start_demo(
        tmp_path,
        _env(KAIZEN_OTEL_PROMETHEUS_HOST="127.0.0.1"),
        "--port",
        str(port),
        "--hold",
        "60",
        "--service-name",
        job,
    )
    try:
        _wait_for_line(tmp_path / "stderr.txt", "keeping http://", proc, timeout=15)
        # The supervisor's run ends after every worker's: once its count is scraped, all totals are final.
        prometheus.wait_for(f'kaizen_agent_runs_total{{job="{job}",gen_ai_agent_name="supervisor"}}', 20)
        q = f'job="{job}"'
        tokens_in = prometheus.value(f'sum(gen_ai_client_token_usage_sum{{{q},gen_ai_token_type="input"}})')
        tokens_out = prometheus.value(f'sum(gen_ai_client_token_usage_sum{{{q},gen_ai_token_type="output"}})')
        calls = prometheus.value(f"sum(gen_ai_client_operation_duration_seconds_count{{{q}}})")
        seconds = prometheus.value(f"sum(gen_ai_client_operation_duration_seconds_sum{{{q}}})")
        cost = prometheus.value(f"sum(kaizen_cost_usd_total{{{q}}})")
        researcher_cost = prometheus.value(f'kaizen_cost_usd_total{{{q},gen_ai_agent_name="researcher"}}')
        duration_le = {
            s["metric"]["le"]
            for s in prometheus.query(f"gen_ai_client_operation_duration_seconds_bucket{{{q}}}")
        }
        token_le = {s["metric"]["le"] for s in prometheus.query(f"gen_ai_client_token_usage_bucket{{{q}}}")}
        beats = {
            s["metric"]["gen_ai_agent_name"]: float(s["value"][1])
            for s in prometheus.query(f"kaizen_agent_heartbeat_seconds{{{q}}}")
        }
        run_budget = f'{q},kaizen_budget_scope="run"'
        left = {
            s["metric"]["gen_ai_agent_name"]: float(s["value"][1])
            for s in prometheus.query(f"kaizen_budget_remaining_usd{{{run_budget}}}")
        }
        exceeded = prometheus.value(
            f'kaizen_budget_exceeded_total{{{run_budget},kaizen_budget_kind="usd",gen_ai_agent_name="researcher"}}'
        )
        refused = prometheus.value(f'kaizen_llm_errors_total{{{q},error_type="BudgetExceededError"}}')
        service = prometheus.wait_for(f'target_info{{{q},service_name="{job}"}}', 5)
    finally:
        prometheus.remove_target(target)
        proc.send_signal(signal.SIGTERM)  # ends the hold; the demo still prints its summary
    summary = _finish(proc, tmp_path)

    assert (tokens_in, tokens_out) == (summary["input_tokens"], summary["output_tokens"])
    assert calls == summary["llm_calls"]
    assert 0.002 <= seconds / calls <= 0.5  # the fake model answers in 2-12 ms
    assert duration_le == OPERATION_BUCKETS and token_le == TOKEN_BUCKETS
    assert abs(cost - summary["cost_usd"]) < 1e-4  # the summary prints 4 decimals
    assert researcher_cost > 0.05  # the run budget the researcher crossed
    assert set(beats) == WORKERS | {"supervisor"}
    assert all(started - 1 <= beat <= time.time() for beat in beats.values())
    assert left["researcher"] == 0.0 and all(0.0 < left[name] < 0.05 for name in WORKERS - {"researcher"})
    assert exceeded == 1.0 and refused == 1.0
    assert service[0]["metric"]["telemetry_distro_name"] == "kaizen_otel"
    assert "researcher: stopped by budget" in summary["text"]


def test_rotel_receives_the_demo_genai_spans_in_the_tree_the_code_made(rotel: Rotel, tmp_path: Path) -> None:
    """Agent, LLM and tool spans arrive over OTLP with their attributes, under the right parents."""
    service = f"demo-otlp-{uuid.uuid4().hex[:8]}"
    env = _env(**rotel.otlp_env("grpc"), OTEL_BSP_SCHEDULE_DELAY="100", OTEL_BLRP_SCHEDULE_DELAY="100")
    proc = _start_demo(tmp_path, env, "--port", "0", "--hold", "0", "--service-name", service)
    summary = _finish(proc, tmp_path)
    assert "spans    exporters: otlp" in summary["text"]

    spans = rotel.wait_for(
        lambda r: r["signal"] == "span" and r["service_name"] == service, timeout=10, count=summary["spans"]
    )
    assert len(spans) == summary["spans"]
    by_id = {span["span_id"]: span for span in spans}
    assert len({span["trace_id"] for span in spans}) == 1  # the workers' runs join the supervisor's trace
    agents = {s["attributes"]["gen_ai.agent.name"]: s for s in spans if s["name"].startswith("invoke_agent ")}
    assert set(agents) == WORKERS | {"supervisor"}
    supervisor = agents["supervisor"]
    assert supervisor["parent_span_id"] == "" and supervisor["name"] == "invoke_agent supervisor"
    for name in WORKERS:
        run = agents[name]
        assert run["parent_span_id"] == supervisor["span_id"]
        assert run["kind"] == SPAN_KIND_INTERNAL
        assert run["attributes"]["gen_ai.operation.name"] == "invoke_agent"
        assert run["attributes"]["gen_ai.agent.id"].startswith(f"{name}-")
        assert run["attributes"]["gen_ai.conversation.id"] == "demo-7"

    chats = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert len(chats) == summary["llm_calls"]
    for chat in chats:
        attrs = chat["attributes"]
        parent = by_id[chat["parent_span_id"]]
        assert parent["name"] == f"invoke_agent {attrs['gen_ai.agent.name']}"
        assert chat["name"] == f"chat {attrs['gen_ai.request.model']}"
        assert chat["kind"] == SPAN_KIND_CLIENT
        assert attrs["gen_ai.response.model"] == attrs["gen_ai.request.model"]
        assert attrs["gen_ai.provider.name"] in {"openai", "anthropic", "gcp.gemini"}
        assert attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
        assert attrs["gen_ai.request.max_tokens"] == 1024
        assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["kaizen.cost.usd"] > 0
        assert chat["start_time_unix_nano"] >= parent["start_time_unix_nano"]
        assert chat["end_time_unix_nano"] <= parent["end_time_unix_nano"]
    assert sum(c["attributes"]["gen_ai.usage.input_tokens"] for c in chats) == summary["input_tokens"]
    assert sum(c["attributes"]["gen_ai.usage.output_tokens"] for c in chats) == summary["output_tokens"]

    tools = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "execute_tool"]
    assert len(tools) == summary["tool_calls"]
    for tool in tools:
        attrs = tool["attributes"]
        assert tool["name"] == f"execute_tool {attrs['gen_ai.tool.name']}"
        assert by_id[tool["parent_span_id"]]["name"] == f"invoke_agent {attrs['gen_ai.agent.name']}"
        assert attrs["gen_ai.tool.call.id"].startswith(f"{attrs['gen_ai.agent.name']}-")
    failed = [t for t in tools if t["status"] and t["status"]["code"] == STATUS_ERROR]
    assert len(failed) == summary["tool_calls"] - summary["tools_ok"] > 0
    for tool in failed:
        assert tool["attributes"]["gen_ai.tool.name"] == "fetch_url"
        assert tool["attributes"]["error.type"] == "ConnectionError"
        assert [event["name"] for event in tool["events"]] == ["exception"]

    crossing = rotel.wait_for(
        lambda r: (
            r["signal"] == "log"
            and r["service_name"] == service
            and r["event_name"] == "kaizen.budget.exceeded"
        )
    )
    assert crossing[0]["span_id"] == agents["researcher"]["span_id"]
