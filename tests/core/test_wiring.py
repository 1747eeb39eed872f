"""configure() wires the agent helpers, redaction and the audit trail to what it installed."""

from __future__ import annotations

from pathlib import Path

import pytest

import kaizen_otel
from kaizen_otel import BudgetExceededError, KaizenConfigError


def test_agent_helpers_record_through_the_configured_providers(clean_env, tmp_path: Path) -> None:
    obs = kaizen_otel.configure(prometheus_port=0, traces_exporter="none")
    with kaizen_otel.agent_run("planner") as run, kaizen_otel.llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=1200, output_tokens=300)
    assert run is not None
    summary = kaizen_otel.usage_summary()
    assert summary["input_tokens"] == 1200 and summary["output_tokens"] == 300
    body = __import__("urllib.request").request.urlopen(obs.metrics_url).read().decode()
    assert "gen_ai_client_token_usage_bucket" in body
    assert 'le="4096"' in body
    obs.shutdown()


def test_the_audit_trail_opens_when_enabled_and_closes_with_a_seal(clean_env, tmp_path: Path) -> None:
    path = tmp_path / "audit" / "trail.jsonl"
    obs = kaizen_otel.configure(prometheus_port=0, enable_audit=True, audit_path=str(path))
    entry = obs.audit.record("agent-1", "tool_execute", {"command": "ls", "password": "hunter2"})
    assert entry.seq >= 0
    obs.shutdown()
    text = path.read_text()
    assert "hunter2" not in text, "audit details are redacted before write"
    assert kaizen_otel.verify_trail(str(path)).ok


def test_audit_records_are_written_even_with_the_sdk_disabled(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("OTEL_SDK_DISABLED", "true")
    path = tmp_path / "trail.jsonl"
    obs = kaizen_otel.configure(enable_audit=True, audit_path=str(path))
    assert obs.tracer_provider is None
    obs.audit.record("agent-1", "shell", {"command": "rm -rf /tmp/x"}, result="denied")
    obs.shutdown()
    assert '"denied"' in path.read_text()


def test_a_crossed_budget_in_enforce_mode_refuses_the_next_llm_call(clean_env, tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    obs = kaizen_otel.configure(
        prometheus_port=0,
        enable_audit=True,
        audit_path=str(path),
        budget_process_tokens=1000,
        budget_enforce=True,
    )
    with kaizen_otel.llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=900, output_tokens=200)
    with pytest.raises(BudgetExceededError), kaizen_otel.llm_call("openai", "gpt-4o"):
        pass
    obs.shutdown()
    assert "budget" in path.read_text()


def test_a_bad_pricing_file_fails_before_anything_is_installed(clean_env, tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    with pytest.raises(KaizenConfigError, match="pricing_file"):
        kaizen_otel.configure(prometheus_port=0, pricing_file=str(bad))
    assert kaizen_otel.get_observability() is None
    again = kaizen_otel.configure(prometheus_port=0)
    assert again.tracer_provider is not None
    again.shutdown()


def test_secrets_on_span_attributes_never_reach_the_exporter(clean_env, capfd) -> None:
    obs = kaizen_otel.configure(prometheus_port=0, traces_exporter="console")
    from opentelemetry import trace

    with trace.get_tracer("t").start_as_current_span("execute_tool http") as span:
        span.set_attribute("http.request.header.authorization", "Bearer abcdefghijklmnop1234")
        span.set_attribute("gen_ai.usage.input_tokens", 4242)
    obs.shutdown()
    err = capfd.readouterr().err
    assert "abcdefghijklmnop1234" not in err
    assert "4242" in err


def test_under_auto_instrumentation_a_bad_pricing_file_falls_back_to_the_shipped_table(
    clean_env, tmp_path: Path
) -> None:
    from kaizen_otel._internal.setup import configure_once

    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    handle = configure_once({"prometheus_port": 0, "pricing_file": str(bad)}, strict=False)
    assert any("pricing_file" in p and "using the shipped pricing table" in p for p in handle.problems)
    with kaizen_otel.llm_call("openai", "gpt-4o") as call:
        call.record_usage(input_tokens=1000, output_tokens=0)
    assert kaizen_otel.usage_summary()["cost_usd"] > 0
    handle.shutdown()


def test_under_auto_instrumentation_an_audit_trail_that_cannot_open_is_left_out(
    clean_env, tmp_path: Path
) -> None:
    from kaizen_otel._internal.setup import configure_once

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = blocker / "trail.jsonl"
    handle = configure_once(
        {"prometheus_port": 0, "enable_audit": True, "audit_path": str(path)}, strict=False
    )
    assert handle.audit is None
    assert any("could not be opened" in p and "continuing without it" in p for p in handle.problems)
    assert handle.tracer_provider is not None
    handle.shutdown()
