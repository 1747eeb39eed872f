"""Message content in log records (GenAI events), whoever emitted them, with capture off.

A real LoggerProvider with the processor ``configure()`` puts first, and an in-memory exporter
after it: what the exporter holds is what any sink would get.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from kaizen_otel.genai.log_content import ContentDroppingLogProcessor


@pytest.fixture
def emit() -> Any:
    provider = LoggerProvider()
    provider.add_log_record_processor(ContentDroppingLogProcessor())
    exported = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exported))
    logger = provider.get_logger("some.instrumentation")

    def emit_one(**fields: Any) -> Any:
        exported.clear()
        logger.emit(LogRecord(**fields))
        (record,) = exported.get_finished_logs()
        return record.log_record

    yield emit_one
    provider.shutdown()


def test_message_events_lose_the_text_in_their_body_and_keep_the_rest(emit):
    user = emit(
        event_name="gen_ai.user.message",
        body={"content": "secret prompt"},
        attributes={"gen_ai.provider.name": "x"},
    )
    assert user.body is None and dict(user.attributes) == {"gen_ai.provider.name": "x"}
    choice = emit(
        event_name="gen_ai.choice",
        body={
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": "secret answer"},
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "secret"}'},
                }
            ],
        },
    )
    assert "secret" not in str(choice.body)
    assert choice.body["tool_calls"][0]["function"]["name"] == "lookup"
    assert choice.body["finish_reason"] == "tool_calls"


def test_the_inference_details_event_loses_its_message_attributes(emit):
    parts = [{"role": "user", "parts": [{"type": "text", "content": "secret prompt"}]}]
    details = emit(
        event_name="gen_ai.client.inference.operation.details",
        attributes={
            "gen_ai.request.model": "m",
            "gen_ai.input.messages": parts,
            "gen_ai.output.messages": [
                {"role": "assistant", "parts": [{"type": "text", "content": "secret"}]}
            ],
            "gen_ai.system_instructions": [{"type": "text", "content": "secret instructions"}],
            "gen_ai.prompt.0.content": "secret too",
        },
    )
    assert dict(details.attributes) == {"gen_ai.request.model": "m"}


def test_an_event_named_by_the_older_event_api_attribute_is_stripped_too(emit):
    record = emit(body="secret prompt as plain text", attributes={"event.name": "gen_ai.user.message"})
    assert record.body is None


def test_tool_call_parts_in_a_body_lose_arguments_and_responses(emit):
    record = emit(
        event_name="gen_ai.assistant.message",
        body={
            "parts": [
                {"type": "tool_call", "name": "run", "arguments": {"cmd": "secret"}},
                {"type": "tool_call_response", "id": "1", "response": "secret output"},
            ]
        },
    )
    assert record.body == {
        "parts": [{"type": "tool_call", "name": "run"}, {"type": "tool_call_response", "id": "1"}]
    }


def test_other_records_keep_their_body_and_lose_only_named_content_attributes(emit):
    plain = emit(body="user logged: content of a form", attributes={"content": "kept", "code.function": "f"})
    assert plain.body == "user logged: content of a form"
    assert dict(plain.attributes) == {"content": "kept", "code.function": "f"}
    other = emit(body="done", attributes={"gen_ai.input.messages": "secret", "n": 1})
    assert dict(other.attributes) == {"n": 1} and other.body == "done"


def test_a_body_nested_past_the_depth_limit_is_cut_there(emit):
    body: Any = {"content": "secret"}
    for _ in range(40):
        body = {"next": body}
    record = emit(event_name="gen_ai.choice", body=body)
    assert "secret" not in str(record.body)
