"""The real ``openai`` client with opentelemetry-instrumentation-openai-v2, against a local fake
OpenAI server, under ``configure()``: cost, roll-ups, budgets, heartbeats and one family per name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
openai_v2 = pytest.importorskip("opentelemetry.instrumentation.openai_v2")

import kaizen_otel  # noqa: E402
from kaizen_otel.exceptions import BudgetExceededError  # noqa: E402
from tests.thirdparty.conftest import promtool_check  # noqa: E402
from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS  # noqa: E402

MODEL = "gpt-4o-mini"
CALL_COST = INPUT_TOKENS * 0.15e-6 + OUTPUT_TOKENS * 0.6e-6  # the shipped table's gpt-4o-mini prices
MESSAGES = [{"role": "user", "content": "what is the answer? secret-prompt-text"}]


@pytest.fixture
def instrumented() -> Iterator[None]:
    """openai-v2 on the providers configure() installed (instrument after configuring)."""
    instrumentor = openai_v2.OpenAIInstrumentor()
    yield None
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def _instrument() -> None:
    openai_v2.OpenAIInstrumentor().instrument()


def _client(fake_models: Any) -> Any:
    return openai.OpenAI(base_url=fake_models.openai_url, api_key="test-key", max_retries=0)


def _chat(client: Any, stream: bool = False) -> None:
    if stream:
        chunks = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        assert "42" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert reply.usage.prompt_tokens == INPUT_TOKENS


def test_instrumented_calls_get_a_cost_on_the_span_and_in_the_cost_metric(
    configured, instrumented, fake_models
):
    tele = configured()
    _instrument()
    client = _client(fake_models)
    _chat(client)
    _chat(client, stream=True)
    chats = [s for s in tele.spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2
    for chat in chats:
        assert chat.attributes["kaizen.cost.usd"] == pytest.approx(CALL_COST)
    assert sum(tele.samples("kaizen_cost_usd_total", gen_ai_request_model=MODEL)) == pytest.approx(
        2 * CALL_COST
    )
    summary = kaizen_otel.usage_summary()
    assert summary["llm_calls"] == 2 and summary["input_tokens"] == 2 * INPUT_TOKENS


def test_an_enclosing_agent_run_rolls_up_tokens_and_cost_of_instrumented_calls(
    configured, instrumented, fake_models
):
    tele = configured()
    _instrument()
    client = _client(fake_models)
    with kaizen_otel.agent_run("researcher") as run:
        _chat(client)
        _chat(client, stream=True)
    assert run.tokens == 2 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert run.cost_usd == pytest.approx(2 * CALL_COST)
    (agent,) = [s for s in tele.spans() if s.name == "invoke_agent researcher"]
    assert agent.attributes["kaizen.run.tokens"] == 2 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert agent.attributes["kaizen.run.cost.usd"] == pytest.approx(2 * CALL_COST)
    assert agent.attributes["gen_ai.provider.name"] == "openai"
    assert tele.samples("kaizen_agent_heartbeat_seconds", gen_ai_agent_name="researcher")
    assert tele.samples("kaizen_cost_usd_total", gen_ai_agent_name="researcher") == [
        pytest.approx(2 * CALL_COST)
    ]


def test_a_budget_crossed_by_instrumented_calls_warns_is_audited_and_counted(
    configured, instrumented, fake_models, caplog
):
    tele = configured(budget_run_tokens=200)
    _instrument()
    client = _client(fake_models)
    with caplog.at_level(logging.WARNING, "kaizen_otel.genai"), kaizen_otel.agent_run("researcher"):
        _chat(client)
        _chat(client)
    assert any("run budget of agent 'researcher' exceeded" in r.getMessage() for r in caplog.records)
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded"]
    assert tele.samples("kaizen_budget_exceeded_total", kaizen_budget_scope="run") == [1.0]


def test_an_enforced_budget_refuses_the_next_instrumented_call_before_it_is_sent(
    configured, instrumented, fake_models
):
    tele = configured(budget_run_tokens=100, budget_enforce=True)
    _instrument()
    client = _client(fake_models)
    sent = len(fake_models.requests)
    with kaizen_otel.agent_run("researcher"):
        _chat(client)
        with pytest.raises(BudgetExceededError):
            _chat(client)
    assert len(fake_models.requests) == sent + 1
    assert [r["action"] for r in tele.audit.records] == ["budget_exceeded", "llm_call_refused"]


def test_llm_call_around_an_instrumented_call_gives_one_span_and_one_measurement(
    configured, instrumented, fake_models
):
    tele = configured()
    _instrument()
    client = _client(fake_models)
    with kaizen_otel.agent_run("researcher") as run, kaizen_otel.llm_call("openai", MODEL):
        _chat(client)
    chats = [s for s in tele.spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 1
    (chat,) = chats
    assert chat.instrumentation_scope.name == "kaizen_otel.genai"
    assert chat.attributes["gen_ai.usage.input_tokens"] == INPUT_TOKENS  # filled from openai-v2's record
    assert chat.attributes["gen_ai.response.id"].startswith("chatcmpl-fake-")
    assert run.tokens == INPUT_TOKENS + OUTPUT_TOKENS
    page = tele.scrape()
    assert page.count("# TYPE gen_ai_client_token_usage histogram") == 1
    assert page.count("# TYPE gen_ai_client_operation_duration_seconds histogram") == 1
    count = tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="input")
    assert count == [1.0]
    assert tele.samples("gen_ai_client_token_usage_sum", gen_ai_token_type="input") == [float(INPUT_TOKENS)]
    promtool_check(page)


def test_metrics_pass_promtool_with_the_instrumentation_alone(configured, instrumented, fake_models):
    tele = configured()
    _instrument()
    _chat(_client(fake_models))
    page = tele.scrape()
    assert page.count("# TYPE gen_ai_client_token_usage histogram") == 1
    assert tele.samples("gen_ai_client_token_usage_count", gen_ai_token_type="output") == [1.0]
    promtool_check(page)


def test_message_content_stays_out_of_instrumented_spans_unless_capture_is_on(
    configured, instrumented, fake_models, monkeypatch
):
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_AND_EVENT")
    monkeypatch.setenv("KAIZEN_OTEL_CAPTURE_MESSAGE_CONTENT", "false")  # ours wins over the standard one
    tele = configured()
    _instrument()
    _chat(_client(fake_models))
    for span in tele.spans():
        assert "secret-prompt-text" not in str(dict(span.attributes))
        assert all("secret-prompt-text" not in str(dict(e.attributes or {})) for e in span.events)


def test_message_content_reaches_instrumented_spans_when_capture_is_on(
    configured, instrumented, fake_models, monkeypatch
):
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_AND_EVENT")
    tele = configured(capture_message_content=True)
    _instrument()
    _chat(_client(fake_models))
    assert any("secret-prompt-text" in str(dict(s.attributes)) for s in tele.spans())


def test_under_opentelemetry_instrument_the_distro_enriches_openai_v2_spans(fake_models, tmp_path):
    """The zero-code path: our distro and configurator, openai-v2 loaded by its entry point."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.testbed.servers import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(
        OTEL_PYTHON_DISTRO="kaizen_otel",
        OTEL_PYTHON_CONFIGURATOR="kaizen_otel",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(free_port()),
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        KAIZEN_OTEL_PROCESS_METRICS="false",
        KAIZEN_OTEL_BUDGET_RUN_TOKENS="200",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    instrument = str(Path(sys.executable).parent / "opentelemetry-instrument")
    done = subprocess.run(
        [instrument, sys.executable, "-m", "tests.thirdparty.app_openai", fake_models.openai_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["run_tokens"] == 2 * (INPUT_TOKENS + OUTPUT_TOKENS)
    assert out["run_cost"] == pytest.approx(2 * CALL_COST)
    assert out["summary"]["budget_crossings"] == 1
    page = out["metrics"]
    assert page.count("# TYPE gen_ai_client_token_usage histogram") == 1
    assert "kaizen_cost_usd_total{" in page
    assert "kaizen_budget_exceeded_total{" in page
    promtool_check(page)
