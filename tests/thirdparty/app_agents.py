"""One agent workload per third-party combination, for the Prometheus tests: a real client or
framework against the fake model servers, first on its own, then wrapped in our helpers. It prints
one JSON line when done (what it used), runs the workload again for each ``again`` line on stdin,
and keeps its /metrics up until stdin closes.

``python -m tests.thirdparty.app_agents COMBINATION BASE_URL``, kaizen_otel configured from the
environment the test gives; ``openai-instrument`` is meant to run under ``opentelemetry-instrument``
(our distro configures, openai-v2 is loaded by its entry point), the others call ``configure()``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import kaizen_otel

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
PROMPT = [{"role": "user", "content": "what is the answer?"}]


def _openai(base_url: str, instrument: bool) -> dict[str, Any]:
    """Two calls (one streamed) in agent 'researcher'; one inside llm_call in agent 'reviewer'."""
    import openai

    if instrument:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="test-key", max_retries=0)
    with kaizen_otel.agent_run("researcher"):
        client.chat.completions.create(model=OPENAI_MODEL, messages=PROMPT)
        stream = client.chat.completions.create(
            model=OPENAI_MODEL, messages=PROMPT, stream=True, stream_options={"include_usage": True}
        )
        for _chunk in stream:
            pass
    with kaizen_otel.agent_run("reviewer"), kaizen_otel.llm_call("openai", OPENAI_MODEL):
        client.chat.completions.create(model=OPENAI_MODEL, messages=PROMPT)
    return {}


def _anthropic(base_url: str, instrument: bool) -> dict[str, Any]:
    """The same shape with anthropic (+ its instrumentation and the client's own tracing)."""
    import anthropic
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    if instrument:
        AnthropicInstrumentor().instrument()
    client = anthropic.Anthropic(base_url=base_url, api_key="test-key", max_retries=0)
    with kaizen_otel.agent_run("writer"):
        client.messages.create(model=ANTHROPIC_MODEL, max_tokens=100, messages=PROMPT)
        with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=100, messages=PROMPT) as stream:
            for _text in stream.text_stream:
                pass
    with kaizen_otel.agent_run("editor"), kaizen_otel.llm_call("anthropic", ANTHROPIC_MODEL):
        client.messages.create(model=ANTHROPIC_MODEL, max_tokens=100, messages=PROMPT)
    return {}


def _pydantic_ai(instrument: bool) -> dict[str, Any]:
    """Agent 'helper' (TestModel, one tool) run once alone and once inside agent_run('supervisor')."""
    import pydantic_ai
    from pydantic_ai.models.test import TestModel

    if instrument:
        pydantic_ai.Agent.instrument_all()
    agent = pydantic_ai.Agent(TestModel(), name="helper", instructions="be brief")

    @agent.tool_plain
    def lookup(q: str) -> str:
        return "42"

    runs = [agent.run_sync("what is the answer?").usage]
    with kaizen_otel.agent_run("supervisor"):
        runs.append(agent.run_sync("what is the answer?").usage)
    return {"runs": [[u.input_tokens, u.output_tokens] for u in runs]}


def _openai_agents(base_url: str, instrument: bool) -> dict[str, Any]:
    """Agent 'assistant' (Agents SDK + its instrumentation + openai-v2), alone, then in agent_run."""
    import agents
    import openai
    from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    if instrument:
        OpenAIAgentsInstrumentor().instrument()
        OpenAIInstrumentor().instrument()
    client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="test-key", max_retries=0)
    model = agents.OpenAIChatCompletionsModel(model=OPENAI_MODEL, openai_client=client)
    agent = agents.Agent(name="assistant", instructions="be brief", model=model)
    agents.Runner.run_sync(agent, "what is the answer?")
    with kaizen_otel.agent_run("supervisor"):
        agents.Runner.run_sync(agent, "what is the answer?")
    return {}


def _langchain(instrument: bool) -> dict[str, Any]:
    """LangChain via OpenInference: two calls and a tool in 'lc-agent'; one in llm_call in 'lc-reviewer'."""
    from openinference.instrumentation.langchain import LangChainInstrumentor

    from tests.thirdparty.fake_langchain import FakeOpenAIChat, lookup

    if instrument:
        LangChainInstrumentor().instrument()
    chat = FakeOpenAIChat()
    with kaizen_otel.agent_run("lc-agent"):
        chat.invoke("what is the answer?")
        lookup.invoke({"q": "the answer"})
        chat.invoke("and again?")
    with kaizen_otel.agent_run("lc-reviewer"), kaizen_otel.llm_call("openai", OPENAI_MODEL):
        chat.invoke("what is the answer?")
    return {}


def main(combination: str, base_url: str) -> None:
    if combination != "openai-instrument":
        kaizen_otel.configure()
    rounds = 0
    while True:  # one round now, one more for each "again" line; EOF ends the app
        if combination in ("openai", "openai-instrument"):
            used = _openai(base_url, instrument=combination == "openai" and rounds == 0)
        elif combination == "anthropic":
            used = _anthropic(base_url, instrument=rounds == 0)
        elif combination == "pydantic-ai":
            used = _pydantic_ai(instrument=rounds == 0)
        elif combination == "langchain":
            used = _langchain(instrument=rounds == 0)
        elif combination == "openai-agents":
            used = _openai_agents(base_url, instrument=rounds == 0)
        else:
            raise SystemExit(f"unknown combination {combination!r}")
        rounds += 1
        done = {"done": combination, "rounds": rounds, "summary": kaizen_otel.usage_summary(), **used}
        print(json.dumps(done), flush=True)
        if sys.stdin.readline().strip() != "again":
            return  # stdin closed: the test is done querying


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
