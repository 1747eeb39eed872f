"""What configure() leaves unimported still works when first used."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "KAIZEN_OTEL_PROMETHEUS_PORT": "0",
            "KAIZEN_OTEL_LOGS_EXPORTER": "none",
        },
    )
    return done.stdout.strip()


def test_a_hook_registered_after_configure_fires_from_the_helpers() -> None:
    out = _run("""
        import sys
        import kaizen_otel
        obs = kaizen_otel.configure()
        print("hooks imported by configure:", "kaizen_otel.genai.hooks" in sys.modules)
        seen = []
        kaizen_otel.get_hook_manager().register(
            kaizen_otel.HookEvent.PRE_TOOL_USE, lambda context: seen.append(context.event_type))
        with kaizen_otel.tool_call("search"):
            pass
        print("fired:", [str(event) for event in seen])
        obs.shutdown()
    """)
    assert out.splitlines() == ["hooks imported by configure: False", "fired: ['pre_tool_use']"]


def test_the_shipped_prices_load_on_the_first_priced_call() -> None:
    out = _run("""
        import kaizen_otel
        from kaizen_otel.genai import runtime
        obs = kaizen_otel.configure()
        with kaizen_otel.llm_call("openai", "gpt-4o") as call:
            call.record_usage(input_tokens=1_000_000, output_tokens=0)
        expected = kaizen_otel.load_pricing().price("openai", "gpt-4o").cost(1_000_000, 0)
        print(expected > 0 and abs(kaizen_otel.usage_summary()["cost_usd"] - expected) < 1e-9)
        print(type(runtime.current().pricing).__name__)
        obs.shutdown()
    """)
    assert out.splitlines() == ["True", "Pricing"]
