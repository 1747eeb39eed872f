"""What stays the same between calls of one agent, tool or model, computed once per runtime.

Span names, span start attributes and the metric attribute dicts of the usual outcomes are built
the first time an agent name, a (tool, agent) or a (provider, model, operation, agent) is seen and
reused after, so a call neither formats a string nor builds a dict for them: that bookkeeping is
what separates a helper from the same signals written by hand. Sharing is safe because the SDK
copies span attributes into the span and never mutates metric attribute dicts; nothing here is
mutated after construction either.

The caches hold at most ``SHAPE_LIMIT`` entries each; past that, shapes are built per call (same
values, more work), so memory stays bounded when names are unbounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaizen_otel.genai import semconv as sc

if TYPE_CHECKING:
    from kaizen_otel.genai.runtime import Runtime

__all__ = ["SHAPE_LIMIT", "AgentShape", "LLMShape", "ToolShape", "agent_shape", "llm_shape", "tool_shape"]

#: Entries per cache of names (agents, tools, models): what a process meeting a new name at every
#: step keeps. Past it, shapes are built per call; far more names than this also pass the metric
#: cardinality limit (2000 series by default), where they fold into the overflow series anyway.
SHAPE_LIMIT = 1024


class AgentShape:
    """One agent name: its span name and attributes, and its run metric attributes."""

    __slots__ = ("active", "error", "ok", "span_attrs", "span_name")

    def __init__(self, rt: Runtime, name: str) -> None:
        agent = ((sc.GEN_AI_AGENT_NAME, name),)
        self.span_name = f"invoke_agent {name}"
        self.span_attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: name,
        }
        self.active = rt.attrs(("act", name), agent)
        self.ok = rt.attrs(
            ("run", name, sc.OUTCOME_SUCCESS), (*agent, (sc.KAIZEN_OUTCOME, sc.OUTCOME_SUCCESS))
        )
        self.error = rt.attrs(
            ("run", name, sc.OUTCOME_ERROR), (*agent, (sc.KAIZEN_OUTCOME, sc.OUTCOME_ERROR))
        )


class ToolShape:
    """One tool called by one agent (or by none): span name and attributes, call metric attributes."""

    __slots__ = ("error", "ok", "span_attrs", "span_name")

    def __init__(self, rt: Runtime, name: str, agent: str | None) -> None:
        self.span_name = f"execute_tool {name}"
        self.span_attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: name,
            sc.GEN_AI_TOOL_TYPE: "function",
        }
        if agent is not None:
            self.span_attrs[sc.GEN_AI_AGENT_NAME] = agent
        self.ok = self._metric(rt, name, agent, sc.OUTCOME_SUCCESS)
        self.error = self._metric(rt, name, agent, sc.OUTCOME_ERROR)

    @staticmethod
    def _metric(rt: Runtime, name: str, agent: str | None, outcome: str) -> dict[str, Any]:
        return rt.attrs(
            ("tool", name, agent, outcome),
            ((sc.GEN_AI_TOOL_NAME, name), (sc.GEN_AI_AGENT_NAME, agent), (sc.KAIZEN_OUTCOME, outcome)),
        )


class LLMShape:
    """One model of one provider, one operation, one calling agent: span name and attributes.

    Its metric attributes and price live with the enrichment processor, which measures every
    model-call span, ours and third-party ones alike.
    """

    __slots__ = ("span_attrs", "span_name")

    def __init__(self, rt: Runtime, provider: str, model: str, operation: str, agent: str | None) -> None:
        self.span_name = f"{operation} {model}"
        self.span_attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model,
        }
        if agent is not None:
            self.span_attrs[sc.GEN_AI_AGENT_NAME] = agent


def agent_shape(rt: Runtime, name: str) -> AgentShape:
    """The shape of agent ``name`` (a miss builds it; the cache is filled up to ``SHAPE_LIMIT``)."""
    shape = AgentShape(rt, name)
    if len(rt.agent_shapes) < SHAPE_LIMIT:
        rt.agent_shapes[name] = shape
    return shape


def tool_shape(rt: Runtime, name: str, agent: str | None) -> ToolShape:
    shape = ToolShape(rt, name, agent)
    if len(rt.tool_shapes) < SHAPE_LIMIT:
        rt.tool_shapes[(name, agent)] = shape
    return shape


def llm_shape(rt: Runtime, provider: str, model: str, operation: str, agent: str | None) -> LLMShape:
    shape = LLMShape(rt, provider, model, operation, agent)
    if len(rt.llm_shapes) < SHAPE_LIMIT:
        rt.llm_shapes[(provider, model, operation, agent)] = shape
    return shape
