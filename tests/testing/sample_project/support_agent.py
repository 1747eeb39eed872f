"""A user's agent: answers a question with one LLM call and a search tool, logging as it goes."""

from __future__ import annotations

import logging

from kaizen_otel.genai import agent_run, get_hook_manager, llm_call, tool_call
from kaizen_otel.logging import get_logger

log = get_logger("support-agent")  # module level, created once, as users do
stdlib_log = logging.getLogger("support_agent")
stdlib_log.setLevel(logging.INFO)


def search(query: str) -> str:
    with tool_call("search", call_id=f"call-{len(query)}"):
        if "fail" in query:
            raise ConnectionError("search backend down")
        return f"results for {query}"


def answer(question: str, *, tokens: int = 100, user: str = "u-1") -> str:
    with agent_run("support", agent_id="support-1") as run:
        log.add_context(user_id=user)
        log.info("question received", question=question)
        with llm_call("openai", "gpt-4o") as call:
            call.record_usage(input_tokens=tokens, output_tokens=tokens // 2)
        try:
            found = search(question)
        except ConnectionError:
            stdlib_log.warning("search failed for %s", question)
            found = "nothing"
        run.set_attribute("support.answered", True)
        return f"answer ({found})"


def register_audit_hook(events: list[str]) -> list[str]:
    """A hook that records the events it sees into ``events``."""

    def hook(context):  # type: ignore[no-untyped-def]
        events.append(context.event_name)

    get_hook_manager().register_hook(hook)
    return events
