"""How other GenAI instrumentations name what the GenAI conventions call ``gen_ai.*``: one table.

The enrichment processor reads every span through this table, so a span from the OpenInference
instrumentations (LangChain, LlamaIndex, smolagents: ``openinference.span.kind``,
``llm.token_count.*``, no ``gen_ai.*`` at all), from OpenLLMetry (``llm.request.type``,
``gen_ai.usage.prompt_tokens``, ``traceloop.span.kind``) or from an older GenAI-convention release
(``gen_ai.system``) gets the same cost, roll-ups and metrics as one that speaks the current
conventions. The table is documented in docs/integrations.md; a name added here is tested there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaizen_otel.genai import semconv as sc

__all__ = [
    "ALIASES",
    "CONTENT_ATTRIBUTES",
    "CONTENT_ATTRIBUTE_PREFIXES",
    "CONTENT_BODY_KEYS",
    "LLM_OPERATIONS",
    "OPERATION_FROM_KIND",
    "SIBLING_RECORDS",
    "START_ERRORS_SWALLOWED",
    "attribute",
    "operation",
    "tokens",
]

#: Operations that call a model (priced, counted in ``gen_ai.client.*``).
LLM_OPERATIONS = frozenset(
    {sc.OP_CHAT, sc.OP_TEXT_COMPLETION, sc.OP_GENERATE_CONTENT, sc.OP_EMBEDDINGS, "completion", "responses"}
)

#: Instrumentation scopes whose model-call spans are started where an exception raised at the
#: start never reaches the application: the OpenAI Agents SDK calls its trace processors (the
#: instrumentation is one) inside ``try/except Exception``. An enforced budget cannot refuse a
#: call at such a span; the model call recorded inside it (openai-v2's) is where it refuses.
START_ERRORS_SWALLOWED = frozenset({"opentelemetry.instrumentation.openai_agents"})

#: ``gen_ai.operation.name`` from a neighbouring convention's span kind attribute.
OPERATION_FROM_KIND: dict[str, dict[str, str]] = {
    "openinference.span.kind": {
        "LLM": sc.OP_CHAT,
        "EMBEDDING": sc.OP_EMBEDDINGS,
        "AGENT": sc.OP_INVOKE_AGENT,
        "TOOL": sc.OP_EXECUTE_TOOL,
    },
    "llm.request.type": {
        "chat": sc.OP_CHAT,
        "completion": sc.OP_TEXT_COMPLETION,
        "embedding": sc.OP_EMBEDDINGS,
    },
    "traceloop.span.kind": {"agent": sc.OP_INVOKE_AGENT, "tool": sc.OP_EXECUTE_TOOL},
}

#: Instrumentations whose model-call span wraps a client that records the same call in a span of its
#: own, a sibling rather than a child: the instrumentation's scope -> the client's scope.
#: opentelemetry-instrumentation-anthropic starts its span without making it current, then calls the
#: anthropic client, whose own tracing starts the call's span under the same parent (outside any
#: span: as the root of another trace). The enrichment processor pairs the two within the thread or
#: task that made the call and counts the client's record, which has the model and the response.
SIBLING_RECORDS: dict[str, str] = {"opentelemetry.instrumentation.anthropic": "com.anthropic.sdk.python"}

#: The current convention's name -> older or neighbouring names, tried in this order.
ALIASES: dict[str, tuple[str, ...]] = {
    sc.GEN_AI_PROVIDER_NAME: ("gen_ai.system", "llm.provider", "llm.system"),
    sc.GEN_AI_REQUEST_MODEL: ("llm.model_name", "llm.request.model"),
    sc.GEN_AI_RESPONSE_MODEL: ("llm.response.model",),
    sc.GEN_AI_USAGE_INPUT_TOKENS: (
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: (
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: (
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    sc.GEN_AI_AGENT_NAME: ("agent.name", "traceloop.entity.name"),
    sc.GEN_AI_TOOL_NAME: ("tool.name", "traceloop.entity.name"),
}

#: Attributes that carry prompts, completions, instructions or tool payloads.
CONTENT_ATTRIBUTES = frozenset(
    {
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GEN_AI_OUTPUT_MESSAGES,
        sc.GEN_AI_SYSTEM_INSTRUCTIONS,
        sc.GEN_AI_TOOL_CALL_ARGUMENTS,
        sc.GEN_AI_TOOL_CALL_RESULT,
        "input.value",
        "output.value",
        "tool.parameters",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "pydantic_ai.all_messages",
        "final_result",
        "tool_arguments",
        "tool_response",
    }
)
#: Prefixes of flattened content attributes (OpenLLMetry's ``gen_ai.prompt.0.content``,
#: OpenInference's ``llm.input_messages.0.message.content``).
CONTENT_ATTRIBUTE_PREFIXES = (
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
)

#: Fields of a GenAI event's log-record body that hold content, at any depth: the message events'
#: ``content`` and ``tool_calls[].function.arguments`` (``gen_ai.user.message``, ``gen_ai.choice``,
#: ...), and the message parts of the current conventions (``parts[].content``, a tool call's
#: ``arguments``, a tool response's ``response``).
CONTENT_BODY_KEYS = frozenset({"content", "arguments", "response", "result"}) | CONTENT_ATTRIBUTES


def operation(attributes: Mapping[str, Any]) -> str | None:
    """The span's ``gen_ai.operation.name``, or the one its neighbouring convention implies."""
    op = attributes.get(sc.GEN_AI_OPERATION_NAME)
    if op is not None:
        return op if op.__class__ is str else str(op)
    for key, table in OPERATION_FROM_KIND.items():
        kind = attributes.get(key)
        if kind is not None:
            return table.get(str(kind))
    return None


def attribute(attributes: Mapping[str, Any], name: str) -> Any:
    """``attributes[name]``, else the first alias present (None when none is)."""
    value = attributes.get(name)
    if value is not None:
        return value
    for alias in ALIASES.get(name, ()):
        value = attributes.get(alias)
        if value is not None:
            return value
    return None


def tokens(attributes: Mapping[str, Any], name: str) -> int | None:
    """A token count under ``name`` or an alias; anything but a non-negative int counts as absent."""
    value = attribute(attributes, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
