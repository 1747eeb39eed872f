"""langchain-core's own fake chat model, presenting itself as ChatOpenAI does, and a tool.

``GenericFakeChatModel`` answers from a list of messages; each answer here carries usage, and the
model reports provider ``openai`` and model ``gpt-4o-mini`` in its LangSmith parameters, where the
OpenInference instrumentation reads them (``llm.provider``, ``llm.model_name``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from opentelemetry import trace

from tests.thirdparty.fake_models import INPUT_TOKENS, OUTPUT_TOKENS, REPLY

MODEL = "gpt-4o-mini"


class FakeOpenAIChat(GenericFakeChatModel):
    """A chat model that answers ``REPLY`` with the fake servers' usage, as provider openai."""

    model: str = MODEL

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(messages=_replies(), **kwargs)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "openai"
        return params


class FakeOpenAIChatOverHTTP(FakeOpenAIChat):
    """The same model, making a traced HTTP request per answer as a provider's client would."""

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        with trace.get_tracer("tests.http").start_as_current_span("POST", kind=trace.SpanKind.CLIENT):
            return super()._generate(*args, **kwargs)


def _replies() -> Iterator[AIMessage]:
    while True:
        yield AIMessage(
            content=REPLY,
            usage_metadata={
                "input_tokens": INPUT_TOKENS,
                "output_tokens": OUTPUT_TOKENS,
                "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
            },
        )


@tool
def lookup(q: str) -> str:
    """Look the question up."""
    return "42"
