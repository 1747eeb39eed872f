"""Redaction: every secret gone without a trace on spans, logs and audit records; look-alikes intact."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from kaizen_otel._internal.settings import resolve
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.redaction import MARKER, RedactingSpanProcessor, Redactor
from tests.redaction.conftest import Pipelines, assert_gone, build, emit_log

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx8fG3kLq9w\nQwErTyUi0pAsDf\n"
    "-----END RSA PRIVATE KEY-----"
)

#: (attribute key, value, the secret part that must vanish). Keys here are deliberately neutral
#: ("note"), so each secret is caught by its value pattern, not by its key.
SECRET_VALUES: list[tuple[str, str]] = [
    ("Authorization: Bearer 9f8e7d6c5b4a39281706f5e4", "9f8e7d6c5b4a39281706f5e4"),
    ("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"),
    ("anthropic sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2", "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"),
    ("all lower case sk-proj-abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"),
    ("sk-ant-admin01-abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
    ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("gh ghp_16C7e42F292c6912E7710c838347Ae178B4a token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("slack xoxb-2402934872-EXAMPLEabcdef", "xoxb-2402934872-EXAMPLEabcdef"),
    ("google AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI", "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("hf hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    (f"session {JWT}", JWT),
    (f"key file {PEM}", "MIIEowIBAAKCAQEAx8fG3kLq9w"),
    ("postgres://app:Tr0ub4dor3@db.internal:5432/prod", "Tr0ub4dor3"),
    ("login with password=Hunter2Hunter2 now", "Hunter2Hunter2"),
    ('{"api_key": "zq81lmx0vv72"}', "zq81lmx0vv72"),
    ("Server=db;Uid=app;Pwd=Correct8Horse;", "Correct8Horse"),
    ("paid with 4111 1111 1111 1111 today", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004 on file", "5500-0000-0000-0004"),
    ("amex 378282246310005", "378282246310005"),
]

#: Keys whose values are replaced whole, whatever the value looks like.
SECRET_KEYS: list[tuple[str, Any]] = [
    ("password", "plainpass1"),
    ("db.password", "plainpass2"),
    ("api_key", "plainkey33"),
    ("x-api-key", "plainkey44"),
    ("apiKey", "plainkey55"),
    ("OPENAI_API_KEY", "plainkey66"),
    ("http.request.header.authorization", ("Basic dXNlcjpwYXNz",)),
    ("http.request.header.cookie", "sid=plaincookie7"),
    ("client_secret", "plainsecret8"),
    ("access_token", "plaintoken9"),
    ("refreshToken", "plaintoken10"),
    ("token", "plaintoken11"),
    ("private_key", "plainprivate12"),
    ("credentials", "plaincreds13"),
]

#: Values that look a bit like secrets and must survive untouched.
LOOK_ALIKES: dict[str, Any] = {
    "gen_ai.usage.input_tokens": 1234,
    "gen_ai.usage.output_tokens": 4321,
    "gen_ai.request.max_tokens": 4096,
    "llm.usage.total_tokens": 5555,
    "token_count": 77,
    "max_token": 512,
    "estimated_tokens": 100,
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span_id": "00f067aa0ba902b7",
    "request.id": "123e4567-e89b-12d3-a456-426614174000",
    "sent_at_ms": "1729766400000",
    "tokenizer": "cl100k_base",
    "library": "sk-learn-pipeline-configuration",
    "note": "tokens: 100, max_token=100, the bearer information is public",
    "order": "order number 1234567890123 shipped",
    "contact": "user@example.com",
    "session_id": "session-123",
    "gen_ai.usage.details": "token=should-stay-under-usage",
}


# --- the table of secrets, on each of the three paths ---------------------------------------------


@pytest.mark.parametrize(("value", "secret"), SECRET_VALUES)
def test_a_secret_inside_a_span_attribute_value_is_removed(pipes: Pipelines, value: str, secret: str) -> None:
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("chat", attributes={"note": value}):
        pass
    scrubbed = pipes.span_attributes()["note"]
    assert "[REDACTED:" in scrubbed
    assert_gone(secret, scrubbed)


@pytest.mark.parametrize(("value", "secret"), SECRET_VALUES)
def test_a_secret_inside_a_log_body_and_field_is_removed(pipes: Pipelines, value: str, secret: str) -> None:
    record = emit_log(pipes, value, {"note": value})
    assert_gone(secret, record.log_record.body)
    assert_gone(secret, dict(record.log_record.attributes or {}))


@pytest.mark.parametrize(("value", "secret"), SECRET_VALUES)
def test_a_secret_inside_an_audit_record_is_removed(pipes: Pipelines, value: str, secret: str) -> None:
    record = {"action": "tool_execute", "details": {"args": [value], "note": value}}
    scrubbed = pipes.redactor.redact_mapping(record)
    assert_gone(secret, scrubbed)
    assert scrubbed["action"] == "tool_execute"
    assert record["details"]["note"] == value  # the caller's mapping is not modified


@pytest.mark.parametrize(("key", "value"), SECRET_KEYS)
def test_a_value_under_a_sensitive_key_is_replaced_whole_on_every_path(
    pipes: Pipelines, key: str, value: Any
) -> None:
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("s", attributes={key: value}):
        pass
    record = emit_log(pipes, "login", {key: value})
    audit = pipes.redactor.redact_mapping({"details": {key: value}})
    assert pipes.span_attributes()[key] == MARKER
    assert dict(record.log_record.attributes or {})[key] == MARKER
    assert audit["details"][key] == MARKER


def test_look_alikes_survive_on_every_path(pipes: Pipelines) -> None:
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("s", attributes=LOOK_ALIKES):
        pass
    record = emit_log(pipes, LOOK_ALIKES["note"], LOOK_ALIKES)
    assert pipes.span_attributes() == LOOK_ALIKES
    assert dict(record.log_record.attributes or {}) == LOOK_ALIKES
    assert record.log_record.body == LOOK_ALIKES["note"]
    assert pipes.redactor.redact_mapping(LOOK_ALIKES) == LOOK_ALIKES
    assert pipes.redactions() == {}


def test_the_marker_never_contains_any_part_of_the_secret() -> None:
    redactor = Redactor()
    for value, secret in SECRET_VALUES:
        scrubbed = redactor.redact_text(value)
        assert_gone(secret, scrubbed)
        assert scrubbed.count("[REDACTED:") >= 1


def test_span_event_attributes_are_scrubbed_too(pipes: Pipelines) -> None:
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("s") as span:
        span.add_event(
            "gen_ai.user.message", {"content": "my key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"}
        )
    (finished,) = pipes.spans.get_finished_spans()
    (event,) = finished.events
    assert dict(event.attributes or {}) == {"content": "my key is [REDACTED:api_key]"}


def test_a_span_is_scrubbed_even_for_processors_added_before_redaction() -> None:
    pipes = build(redaction_first=False)
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("s", attributes={"password": "p4ss"}):
        pass
    assert pipes.span_attributes() == {"password": MARKER}


def test_the_fallback_on_end_path_scrubs_the_readable_span(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RedactingSpanProcessor, "_uses_on_ending", False)
    pipes = build()
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("s", attributes={"api_key": "k9"}):
        pass
    assert pipes.span_attributes() == {"api_key": MARKER}


def test_nested_values_in_log_attributes_are_scrubbed(pipes: Pipelines) -> None:
    record = emit_log(
        pipes,
        {"request": {"headers": {"Authorization": "Bearer 9f8e7d6c5b4a39281706f5e4"}}},
        {"http": {"headers": {"cookie": "sid=1"}, "path": "/x"}, "tags": ["ok", "password=abc12345"]},
    )
    attributes = dict(record.log_record.attributes or {})
    assert attributes["http"] == {"headers": {"cookie": MARKER}, "path": "/x"}
    assert attributes["tags"] == ("ok", "password=[REDACTED:secret]")
    assert record.log_record.body == {"request": {"headers": {"Authorization": MARKER}}}


# --- configuration ----------------------------------------------------------------------------------


def test_users_can_add_keys_patterns_and_allow_listed_attributes() -> None:
    redactor = Redactor(
        extra_keys=["customer_ref"],
        extra_patterns=[r"EMP-\d{6}", r"pin (?P<secret>\d{4})"],
        allow_keys=["debug.token", "vendor.*"],
    )
    scrubbed = redactor.redact_mapping(
        {
            "app.customerRef": "C-1",
            "note": "employee EMP-123456, pin 9876",
            "debug.token": "kept-on-purpose",
            "vendor.password": "kept-too",
            "password": "gone",
        }
    )
    assert scrubbed == {
        "app.customerRef": MARKER,
        "note": "employee [REDACTED:custom], pin [REDACTED:custom]",
        "debug.token": "kept-on-purpose",
        "vendor.password": "kept-too",
        "password": MARKER,
    }


def test_emails_are_scrubbed_only_when_asked() -> None:
    text = "reply to jane.doe+agents@example.co.uk today"
    assert Redactor().redact_text(text) == text
    assert Redactor(redact_emails=True).redact_text(text) == "reply to [REDACTED:email] today"


def test_from_settings_reads_the_redaction_settings() -> None:
    settings = resolve(
        {
            "redaction_extra_keys": ["tenant_secret_ref"],
            "redaction_extra_patterns": [r"ACME-[0-9]+"],
            "redaction_allow_keys": ["password_hint"],
            "redact_emails": True,
        },
        environ={},
    ).settings
    redactor = Redactor.from_settings(settings)
    assert redactor.redact_mapping(
        {"tenant_secret_ref": "x", "id": "ACME-42", "password_hint": "pet", "to": "a@b.io"}
    ) == {
        "tenant_secret_ref": MARKER,
        "id": "[REDACTED:custom]",
        "password_hint": "pet",
        "to": "[REDACTED:email]",
    }


def test_redaction_switched_off_changes_nothing() -> None:
    pipes = build({"enabled": False})
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("s", attributes={"password": "p"}):
        pass
    assert pipes.span_attributes() == {"password": "p"}
    assert pipes.redactor.redact_mapping({"password": "p"}) == {"password": "p"}


def test_a_bad_extra_pattern_is_rejected_naming_the_setting_and_the_value() -> None:
    with pytest.raises(KaizenConfigError) as excinfo:
        Redactor(extra_patterns=["(unclosed"])
    assert str(excinfo.value).startswith(
        "invalid value for redaction_extra_patterns (from argument): '(unclosed'; "
        "expected a valid regular expression"
    )


def test_a_counter_records_how_many_values_were_redacted(pipes: Pipelines) -> None:
    with pipes.tracer_provider.get_tracer("t").start_as_current_span(
        "s", attributes={"password": "a", "api_key": "b", "note": "fine"}
    ):
        pass
    emit_log(pipes, "password=abc12345", {"token": "t"})
    pipes.redactor.redact_mapping({"secret": "s"})
    assert pipes.redactions() == {"span": 2, "log": 2, "audit": 1}


def test_sensitive_key_detection_matches_words_not_substrings() -> None:
    redactor = Redactor()
    sensitive = ["password", "x-api-key", "APIKEY", "Set-Cookie", "session_token", "card_number"]
    harmless = [
        "passage",
        "tokens",
        "tokenizer",
        "max_tokens",
        "token_count",
        "author",
        "keyboard",
        "secretary",
    ]
    assert [k for k in sensitive if not redactor.is_sensitive_key(k)] == []
    assert [k for k in harmless if redactor.is_sensitive_key(k)] == []


def test_spans_without_secrets_keep_their_attribute_object(pipes: Pipelines) -> None:
    """The clean path copies nothing: the exported span holds the very attributes the SDK built."""
    tracer = pipes.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("s", attributes={"gen_ai.request.model": "gpt-4o"}) as span:
        original = span._attributes  # type: ignore[attr-defined]
    (finished,) = pipes.spans.get_finished_spans()
    assert isinstance(finished, ReadableSpan)
    assert finished._attributes is original
