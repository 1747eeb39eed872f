"""The OpenAI Agents SDK's own trace export to OpenAI's platform, beside its OTel instrumentation.

With ``OPENAI_API_KEY`` set, the SDK posts every run (prompts and answers included) to OpenAI's
trace ingest from a background thread, whatever else records it. Here that endpoint is a loopback
stand-in (a second fake OpenAI server): nothing leaves the machine. The SDK's tracing is global
and built once per process, lazily; each test starts from none, as a fresh process does, and
puts the SDK's globals back afterwards. Under ``opentelemetry-instrument`` (a subprocess) the
instrumentation is loaded before the application's code; ``kaizen-otel doctor`` names both traps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

agents = pytest.importorskip("agents")
openai = pytest.importorskip("openai")
agents_instrumentation = pytest.importorskip("opentelemetry.instrumentation.openai_agents")
openai_v2 = pytest.importorskip("opentelemetry.instrumentation.openai_v2")

from agents.tracing import processors as sdk_processors  # noqa: E402
from agents.tracing import setup as sdk_setup  # noqa: E402

from kaizen_otel._internal.doctor import agents_sdk_tracing_notes  # noqa: E402
from tests.testbed.servers import free_port  # noqa: E402
from tests.thirdparty.conftest import promtool_check  # noqa: E402
from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS, FakeModelServer  # noqa: E402

PROMPT = "what is the answer? secret-prompt-text"
CALL_COST = INPUT_TOKENS * 0.15e-6 + OUTPUT_TOKENS * 0.6e-6


@pytest.fixture
def openai_ingest(clean_env: pytest.MonkeyPatch) -> Iterator[FakeModelServer]:
    """The SDK's default tracing, fresh, its exporter posting to a loopback trace ingest."""
    ingest = FakeModelServer().start()
    clean_env.delenv("OPENAI_API_KEY", raising=False)
    clean_env.delenv("OPENAI_AGENTS_DISABLE_TRACING", raising=False)
    # the SDK keeps one provider, batch processor and exporter per process, made on first use;
    # the one other tests used (exporting to api.openai.com) is emptied before a key appears
    if sdk_setup.GLOBAL_TRACE_PROVIDER is not None:
        sdk_setup.GLOBAL_TRACE_PROVIDER.force_flush()
    clean_env.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
    clean_env.setattr(sdk_setup, "GLOBAL_TRACE_PROVIDER", None)
    clean_env.setattr(sdk_processors, "_global_exporter", None)
    clean_env.setattr(sdk_processors, "_global_processor", None)
    exporter = agents.tracing.default_exporter()
    exporter.endpoint = f"{ingest.openai_url}/traces/ingest"  # never https://api.openai.com
    provider = agents.tracing.get_trace_provider()
    batches = sdk_processors.default_processor()
    try:
        yield ingest
    finally:
        provider.shutdown(timeout=5)  # joins the exporter's thread after its last post
        exporter.close()
        ingest.stop()
    thread = batches._worker_thread  # started on the first trace, if the processor was kept
    assert thread is None or not thread.is_alive()


@pytest.fixture
def instrumentor(openai_ingest: FakeModelServer) -> Iterator[Any]:
    """The Agents SDK instrumentation (uninstrumented before the SDK's tracing is put back)."""
    agents_otel = agents_instrumentation.OpenAIAgentsInstrumentor()
    client_otel = openai_v2.OpenAIInstrumentor()
    yield agents_otel
    for each in (agents_otel, client_otel):
        if each.is_instrumented_by_opentelemetry:
            each.uninstrument()


def _run(fake_models: FakeModelServer, instrumentor: Any, **run_config: Any) -> Any:
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    openai_v2.OpenAIInstrumentor().instrument()
    client = openai.AsyncOpenAI(base_url=fake_models.openai_url, api_key="test-key", max_retries=0)
    model = agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
    agent = agents.Agent(name="assistant", instructions="be brief", model=model)
    result = agents.Runner.run_sync(agent, PROMPT, run_config=agents.RunConfig(**run_config))
    agents.tracing.flush_traces()  # what the batch processor's thread would post within 5 s
    return result


def _posted(ingest: FakeModelServer) -> list[dict[str, Any]]:
    """The trace and span records the SDK posted to the trace ingest."""
    assert all(path == "/v1/traces/ingest" for path, _ in ingest.requests)
    return [item for _, body in ingest.requests for item in body["data"]]


def _kinds(items: list[dict[str, Any]]) -> set[str]:
    return {item["object"] if item["object"] == "trace" else item["span_data"]["type"] for item in items}


@pytest.mark.parametrize("key", ["OPENAI_API_KEY", "set_tracing_export_api_key", "RunConfig(tracing=)"])
def test_by_default_the_sdk_posts_each_run_with_its_prompt_to_openai(
    configured, instrumentor, fake_models, openai_ingest, clean_env, key
):
    run_config: dict[str, Any] = {}
    if key != "OPENAI_API_KEY":  # no OPENAI_API_KEY at all: a key given in code turns export on
        clean_env.delenv("OPENAI_API_KEY")
    if key == "set_tracing_export_api_key":
        agents.set_tracing_export_api_key("sk-another-fake-key")
    if key == "RunConfig(tracing=)":
        run_config["tracing"] = {"api_key": "sk-another-fake-key"}
    tele = configured()
    _run(fake_models, instrumentor, **run_config)
    posted = _posted(openai_ingest)
    assert {"trace", "agent", "generation"} <= _kinds(posted)
    assert PROMPT in json.dumps(posted)  # the prompt goes to OpenAI's platform as well
    (run,) = [s for s in tele.spans() if s.name == "invoke_agent assistant"]
    assert run.attributes["kaizen.run.tokens"] == INPUT_TOKENS + OUTPUT_TOKENS


def test_with_the_default_processors_replaced_nothing_is_posted_and_kaizen_sees_the_run(
    configured, instrumentor, fake_models, openai_ingest
):
    tele = configured()
    agents.set_trace_processors([])  # the documented way: drop the exporter to OpenAI's platform
    instrumentor.instrument()  # then the instrumentation adds its processor to the empty list
    result = _run(fake_models, instrumentor)
    assert "42" in result.final_output
    assert openai_ingest.requests == []
    (run,) = [s for s in tele.spans() if s.name == "invoke_agent assistant"]
    assert run.attributes["kaizen.run.tokens"] == INPUT_TOKENS + OUTPUT_TOKENS
    assert run.attributes["kaizen.run.cost.usd"] == pytest.approx(CALL_COST)
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="assistant") == [pytest.approx(CALL_COST)]
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input") == [1.0]
    assert tele.samples("gen_ai_client_token_usage_sum", gen_ai_token_type="input") == [float(INPUT_TOKENS)]
    assert tele.samples("kaizen_agent_runs_total", gen_ai_agent_name="assistant") == [1.0]
    promtool_check(tele.scrape())
    for span in tele.spans():
        assert PROMPT not in str(dict(span.attributes))


SILENCING = {
    "set_tracing_disabled(True)": lambda env: agents.set_tracing_disabled(True),
    "OPENAI_AGENTS_DISABLE_TRACING=1": lambda env: env.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1"),
    "set_trace_processors([]) after instrument()": lambda env: agents.set_trace_processors([]),
}


@pytest.mark.parametrize("switch", [*SILENCING, "RunConfig(tracing_disabled=True)"])
def test_the_sdks_off_switches_also_silence_the_instrumentation(
    configured, instrumentor, fake_models, openai_ingest, clean_env, switch
):
    tele = configured()
    instrumentor.instrument()
    if switch in SILENCING:
        SILENCING[switch](clean_env)
    result = _run(fake_models, instrumentor, tracing_disabled=switch.startswith("RunConfig"))
    assert "42" in result.final_output
    assert openai_ingest.requests == []
    # kaizen_otel sees no run: openai-v2's record of the model call is all that is left, without agent
    assert [s.name for s in tele.spans()] == ["chat gpt-4o-mini"]
    assert tele.samples("kaizen_cost_usd_total") == [pytest.approx(CALL_COST)]
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="assistant") == []
    assert tele.samples("kaizen_agent_runs_total") == []


def test_without_sensitive_data_the_run_is_still_posted_without_its_prompt(
    configured, instrumentor, fake_models, openai_ingest
):
    tele = configured()
    _run(fake_models, instrumentor, trace_include_sensitive_data=False)
    posted = _posted(openai_ingest)
    assert {"trace", "agent", "generation"} <= _kinds(posted)
    assert PROMPT not in json.dumps(posted)
    # the instrumentation then names the call text_completion, not chat: still priced and counted once
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="assistant") == [pytest.approx(CALL_COST)]
    counts = tele.samples("gen_ai_client_token_usage_count", gen_ai_operation_name="text_completion")
    assert counts == [1.0, 1.0]  # input, output


# --- under opentelemetry-instrument, where the instrumentation is loaded before the application --
APP = """
import json, sys, urllib.request
import agents, openai
import kaizen_otel
from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor

model_url, ingest_url, metrics_url, how = sys.argv[1:]
agents.tracing.default_exporter().endpoint = ingest_url
agents.set_trace_processors([])
if how == "instrumented in code":
    OpenAIAgentsInstrumentor().instrument()
client = openai.AsyncOpenAI(base_url=model_url, api_key="test-key", max_retries=0)
model = agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
agents.Runner.run_sync(agents.Agent(name="assistant", instructions="be brief", model=model), "hi")
agents.tracing.flush_traces()
page = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
print(json.dumps({"summary": kaizen_otel.usage_summary(), "metrics": page}))
"""


@pytest.mark.parametrize("how", ["instrumented in code", "auto-instrumented"])
def test_under_opentelemetry_instrument_the_instrumentation_is_left_out_and_loaded_in_code(fake_models, how):
    ingest = FakeModelServer().start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_", "OPENAI_"))}
    env.update(
        OPENAI_API_KEY="sk-fake-key-for-tests",
        OTEL_PYTHON_DISTRO="kaizen_otel",
        OTEL_PYTHON_CONFIGURATOR="kaizen_otel",
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        KAIZEN_OTEL_PROMETHEUS_HOST="127.0.0.1",
        KAIZEN_OTEL_PROMETHEUS_PORT=str(port),
        KAIZEN_OTEL_PROCESS_METRICS="false",
        KAIZEN_OTEL_LIVE_VIEW="false",
    )
    if how == "instrumented in code":
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "openai_agents"
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, "-c", APP]
    urls = [fake_models.openai_url, f"{ingest.openai_url}/traces/ingest", f"http://127.0.0.1:{port}/metrics"]
    try:
        done = subprocess.run([*command, *urls, how], env=env, capture_output=True, text=True, timeout=120)
    finally:
        ingest.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    assert ingest.requests == []
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["summary"]["input_tokens"] == INPUT_TOKENS  # openai-v2 (auto) records the call: once
    agent_runs = 'kaizen_agent_runs_total{gen_ai_agent_name="assistant"'
    if how == "instrumented in code":
        assert agent_runs in seen["metrics"]
        assert 'kaizen_cost_usd_total{gen_ai_agent_name="assistant"' in seen["metrics"]
    else:  # set_trace_processors([]) after the auto-instrumentation removed its processor too
        assert agent_runs not in seen["metrics"]


# --- kaizen-otel doctor -----------------------------------------------------------------------
def test_the_doctor_warns_that_the_sdks_off_switch_silences_its_instrumentation():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_", "OPENAI_"))}
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    doctor = Path(sys.executable).parent / "kaizen-otel"
    done = subprocess.run([str(doctor), "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert "warning: OPENAI_AGENTS_DISABLE_TRACING=1 turns the Agents SDK's tracing off, and its OTel " in (
        done.stdout
    )
    assert "agents.set_trace_processors([]) before instrumenting" in done.stdout


def test_the_doctor_notes_that_with_a_key_the_sdk_posts_every_run_to_openai():
    (note,) = agents_sdk_tracing_notes({"OPENAI_API_KEY": "sk-fake-key-for-tests"})
    assert "posts every run, prompts included, to OpenAI's platform" in note
    assert "sk-fake" not in note
    (note,) = agents_sdk_tracing_notes({"OPENAI_AGENTS_DISABLE_TRACING": "false"})
    assert "exports nothing" in note
    (warning,) = agents_sdk_tracing_notes({"OPENAI_API_KEY": "k", "OPENAI_AGENTS_DISABLE_TRACING": "True"})
    assert warning.startswith("  warning: OPENAI_AGENTS_DISABLE_TRACING=True")
