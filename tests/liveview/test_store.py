"""The store keeps recent runs from any GenAI-convention source, bounded in runs and bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, Tracer

from kaizen_otel.liveview import LiveApp, LiveStore
from kaizen_otel.liveview.app import NOT_CAPTURED
from kaizen_otel.redaction import RedactingSpanProcessor, Redactor


def _tracer(store: LiveStore, *first: object) -> Tracer:
    provider = TracerProvider()
    for processor in first:
        provider.add_span_processor(processor)  # type: ignore[arg-type]
    provider.add_span_processor(store.span_processor)
    return provider.get_tracer("third-party-instrumentation")


def _agent(tracer: Tracer, name: str, calls: int = 1, tokens: tuple[int, int] = (100, 10)) -> None:
    """An agent run as a framework other than ours writes it: only convention attributes."""
    with tracer.start_as_current_span(
        f"invoke_agent {name}",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name},
    ):
        for _ in range(calls):
            with (
                tracer.start_as_current_span(
                    "chat gpt-4o",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": tokens[0],
                        "gen_ai.usage.output_tokens": tokens[1],
                        "kaizen.cost.usd": 0.25,
                    },
                ),
                tracer.start_as_current_span("POST /v1/chat/completions"),
            ):
                pass
        with tracer.start_as_current_span(
            "execute_tool search",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "timeout"))
            tool.set_attribute("error.type", "TimeoutError")


@pytest.fixture
def store() -> Iterator[LiveStore]:
    yield LiveStore(max_runs=50, max_bytes=1024 * 1024)


def test_a_third_party_agent_run_is_kept_with_its_span_tree_and_roll_ups(store: LiveStore) -> None:
    _agent(_tracer(store), "planner", calls=2)
    document = LiveApp(store).runs()
    (run,) = document["runs"]
    assert (run["agent"], run["status"], run["llm_calls"], run["tool_calls"], run["tool_errors"]) == (
        "planner",
        "ok",
        2,
        1,
        1,
    )
    assert (run["input_tokens"], run["output_tokens"], run["cost_usd"]) == (200, 20, 0.5)
    assert run["spans"] == 6  # the agent, two chats with their HTTP spans, one tool
    tree = LiveApp(store).run(run["id"])
    assert tree is not None
    shape = [(span["depth"], span["name"]) for span in tree["spans"]]
    assert shape == [
        (0, "invoke_agent planner"),
        (1, "chat gpt-4o"),
        (2, "POST /v1/chat/completions"),
        (1, "chat gpt-4o"),
        (2, "POST /v1/chat/completions"),
        (1, "execute_tool search"),
    ]
    tool = tree["spans"][-1]
    assert (tool["status"], tool["error"]) == ("error", "TimeoutError")


def test_nested_runs_are_runs_of_their_own_and_roll_up_into_their_parent(store: LiveStore) -> None:
    tracer = _tracer(store)
    with tracer.start_as_current_span(
        "invoke_agent supervisor", attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        _agent(tracer, "researcher")
        _agent(tracer, "coder")
    runs = {run["agent"]: run for run in LiveApp(store).runs()["runs"]}
    assert runs["supervisor"]["agent"] == "supervisor"  # falls back to the span name's agent
    assert runs["researcher"]["parent"] == runs["supervisor"]["id"]
    assert runs["supervisor"]["llm_calls"] == 2
    assert runs["supervisor"]["input_tokens"] == 200
    assert runs["supervisor"]["children"] == 2
    tree = LiveApp(store).run(runs["supervisor"]["id"])
    assert tree is not None
    depths = [(span["depth"], span["name"]) for span in tree["spans"] if span["name"].startswith("invoke")]
    assert depths == [
        (0, "invoke_agent supervisor"),
        (1, "invoke_agent researcher"),
        (1, "invoke_agent coder"),
    ]
    assert store.totals()["agent_runs"] == 3
    assert store.totals()["llm_calls"] == 2


def test_a_lone_model_call_outside_any_agent_is_a_run_and_plain_spans_are_ignored(store: LiveStore) -> None:
    tracer = _tracer(store)
    with tracer.start_as_current_span("GET /health"):
        pass
    with tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}):
        pass
    (run,) = LiveApp(store).runs()["runs"]
    assert (run["operation"], run["llm_calls"]) == ("chat", 1)


def test_a_run_in_progress_is_listed_as_running_with_the_spans_ended_so_far(store: LiveStore) -> None:
    tracer = _tracer(store)
    with tracer.start_as_current_span(
        "invoke_agent long", attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        with tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat"}):
            pass
        (run,) = LiveApp(store).runs()["runs"]
        assert run["status"] == "running"
        tree = LiveApp(store).run(run["id"])
        assert tree is not None
        assert [(span["name"], span["status"]) for span in tree["spans"]] == [
            ("invoke_agent long", "running"),
            ("chat m", "ok"),
        ]
    assert LiveApp(store).runs()["runs"][0]["status"] == "ok"


def test_the_oldest_runs_go_first_past_the_run_cap_and_the_totals_keep_counting() -> None:
    store = LiveStore(max_runs=3, max_bytes=1024 * 1024)
    tracer = _tracer(store)
    for index in range(10):
        _agent(tracer, f"agent-{index}")
    assert [run["agent"] for run in LiveApp(store).runs()["runs"]] == ["agent-9", "agent-8", "agent-7"]
    assert store.evicted_runs == 7
    assert store.totals()["agent_runs"] == 10
    assert store.totals()["input_tokens"] == 1000


def test_the_byte_cap_holds_whatever_the_spans_carry() -> None:
    store = LiveStore(max_runs=10_000, max_bytes=256 * 1024)
    tracer = _tracer(store)
    for index in range(200):
        with tracer.start_as_current_span(
            "invoke_agent big",
            attributes={"gen_ai.operation.name": "invoke_agent", "big": "x" * 10_000, "n": index},
        ):
            pass
    assert store.bytes <= 256 * 1024
    assert 0 < len(store) < 200


def test_one_endless_run_keeps_counting_after_it_stops_keeping_span_details() -> None:
    store = LiveStore(max_runs=10, max_bytes=256 * 1024)
    tracer = _tracer(store)
    with tracer.start_as_current_span(
        "invoke_agent endless", attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        for _ in range(2_000):
            with tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat"}):
                pass
    (run,) = LiveApp(store).runs()["runs"]
    assert run["llm_calls"] == 2_000
    assert run["dropped_spans"] > 0
    assert store.bytes <= 256 * 1024


def test_message_content_is_not_shown_unless_capture_is_on(store: LiveStore) -> None:
    tracer = _tracer(store)
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": '[{"role": "user", "content": "my diagnosis"}]',
        "gen_ai.prompt.0.content": "my diagnosis",
        "gen_ai.request.model": "m",
    }
    with tracer.start_as_current_span("chat m", attributes=attributes) as span:
        span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "my diagnosis"})
    run_id = LiveApp(store).runs()["runs"][0]["id"]
    text = str(LiveApp(store).run(run_id))
    assert "my diagnosis" not in text
    assert NOT_CAPTURED in text
    store.capture_content = True
    assert "my diagnosis" in str(LiveApp(store).run(run_id))


def test_redacted_values_reach_the_page_as_the_redaction_marker(store: LiveStore) -> None:
    redactor = Redactor()
    tracer = _tracer(store, RedactingSpanProcessor(redactor))
    with tracer.start_as_current_span(
        "execute_tool deploy",
        attributes={"gen_ai.operation.name": "execute_tool", "api_key": "sk-live-abcdefghijklmnop12345"},
    ):
        pass
    run_id = LiveApp(store).runs()["runs"][0]["id"]
    detail = LiveApp(store).run(run_id)
    assert detail is not None
    assert detail["spans"][0]["attributes"]["api_key"].startswith("[REDACTED")
    assert "abcdefghijklmnop" not in str(detail)


def test_log_records_of_a_run_join_it_and_budget_crossings_are_counted(store: LiveStore) -> None:
    tracer = _tracer(store)
    logs = LoggerProvider()
    logs.add_log_record_processor(store.log_processor)
    logger = logs.get_logger("agent")
    with tracer.start_as_current_span("invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent"}):
        logger.emit(body="thinking", severity_text="INFO")
        logger.emit(
            body="run budget exceeded",
            event_name="kaizen.budget.exceeded",
            attributes={
                "kaizen.budget.scope": "run",
                "kaizen.budget.kind": "usd",
                "kaizen.budget.limit": 0.1,
            },
        )
        logger.emit(body="refused", event_name="kaizen.budget.refused")
        logger.emit(body="secret prompt", event_name="gen_ai.user.message")
    logger.emit(body="not in any run")
    run = LiveApp(store).runs()["runs"][0]
    assert (run["budget_crossings"], run["refused"]) == (1, 1)
    assert run["budget"] == [{"scope": "run", "kind": "usd", "limit": 0.1}]
    detail = LiveApp(store).run(run["id"])
    assert detail is not None
    assert [log["body"] for log in detail["logs"]] == [
        "thinking",
        "run budget exceeded",
        "refused",
        NOT_CAPTURED,
    ]
    assert store.totals()["budget_crossings"] == 1


def test_odd_telemetry_renders_and_never_raises_into_the_host(store: LiveStore) -> None:
    tracer = _tracer(store)
    logs = LoggerProvider()
    logs.add_log_record_processor(store.log_processor)
    logger = logs.get_logger("agent")
    with tracer.start_as_current_span(
        "invoke_agent odd",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": "many"},
    ):
        with tracer.start_as_current_span("plain child"):
            logger.emit(body={"nested": [1, 2, {"x": None}]})
            logger.emit(body=None, attributes={"k": (1, 2)})
        with tracer.start_as_current_span(
            "chat m",
            attributes={"gen_ai.operation.name": "chat", "kaizen.cost.usd": float("nan")},
        ):
            pass
    run = LiveApp(store).runs()["runs"][0]
    assert (run["llm_calls"], run["input_tokens"], run["cost_usd"]) == (1, 0, 0.0)
    detail = LiveApp(store).run(run["id"])
    assert detail is not None
    assert [log["body"] for log in detail["logs"]] == ['{"nested": [1, 2, {"x": null}]}', None]
    import json

    json.dumps(detail, allow_nan=False)  # the page's JSON.parse accepts it


def test_a_model_call_recorded_twice_counts_once(store: LiveStore) -> None:
    """Our llm_call around an instrumented client: two chat spans, one call."""
    tracer = _tracer(store)
    usage = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10, "kaizen.cost.usd": 0.5}
    agent = {"gen_ai.operation.name": "invoke_agent"}
    with (
        tracer.start_as_current_span("invoke_agent a", attributes=agent),
        tracer.start_as_current_span("chat outer", attributes=usage),
        tracer.start_as_current_span("chat inner", attributes=usage),
    ):
        pass
    run = LiveApp(store).runs()["runs"][0]
    assert (run["llm_calls"], run["input_tokens"], run["cost_usd"]) == (1, 10, 0.5)
    assert run["spans"] == 3  # both records stay in the tree


def test_a_neighbouring_convention_is_read_through_the_shared_table(store: LiveStore) -> None:
    """OpenInference spans carry no gen_ai.* attribute at all."""
    tracer = _tracer(store)
    with (
        tracer.start_as_current_span(
            "agent", attributes={"openinference.span.kind": "AGENT", "agent.name": "researcher"}
        ),
        tracer.start_as_current_span(
            "llm",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.token_count.prompt": 120,
                "llm.token_count.completion": 30,
                "input.value": "the user's question",
            },
        ),
    ):
        pass
    run = LiveApp(store).runs()["runs"][0]
    assert (run["agent"], run["llm_calls"], run["input_tokens"], run["output_tokens"]) == (
        "researcher",
        1,
        120,
        30,
    )
    assert "the user's question" not in str(LiveApp(store).run(run["id"]))


def test_an_ended_run_shows_its_agent_id_as_redaction_left_it(store: LiveStore) -> None:
    """Redaction scrubs attributes when a span ends; a running run shows what start saw."""
    tracer = _tracer(store, RedactingSpanProcessor(Redactor()))
    secret = "AKIAIOSFODNN7EXAMPLE"  # an AWS access key id, scrubbed by its value pattern
    with tracer.start_as_current_span(
        "invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": secret}
    ):
        pass
    run = LiveApp(store).runs()["runs"][0]
    assert run["agent_id"].startswith("[REDACTED")
    assert secret not in str(LiveApp(store).runs())
