"""Redaction fails closed: what it cannot process becomes a marker, and the rest is still scrubbed."""

from __future__ import annotations

from typing import Any

from kaizen_otel.redaction import MARKER, MAX_CONTAINERS, MAX_DEPTH, UNPROCESSABLE, Redactor
from tests.redaction.conftest import ArrayLike, Pipelines, emit_log


class RaisingMapping(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("broken mapping")


def nested(depth: int, leaf: Any) -> dict[str, Any]:
    root: dict[str, Any] = {}
    current = root
    for _ in range(depth - 1):
        current["next"] = {}
        current = current["next"]
    current["leaf"] = leaf
    return root


def deepest(value: Any) -> Any:
    while isinstance(value, dict) and "next" in value:
        value = value["next"]
    return value


def test_an_array_like_value_under_a_sensitive_key_is_replaced_and_the_rest_is_still_scrubbed(
    pipes: Pipelines,
) -> None:
    body = {"embedding": ArrayLike(), "password": ArrayLike(), "db_password": "hunter2", "n": 3}
    record = emit_log(pipes, body, {"db_password": "hunter2", "note": "password=abc12345"})
    assert record.log_record.body == {
        "embedding": UNPROCESSABLE,
        "password": MARKER,
        "db_password": MARKER,
        "n": 3,
    }
    assert dict(record.log_record.attributes or {}) == {
        "db_password": MARKER,
        "note": "password=[REDACTED:secret]",
    }
    assert pipes.redactions("kaizen.redactions.unprocessable") == {"log": 1}


def test_a_body_nested_600_levels_deep_is_cut_at_the_depth_limit_and_counted(pipes: Pipelines) -> None:
    record = emit_log(pipes, nested(600, "password=abc12345"), {"db_password": "x"})
    body = record.log_record.body
    assert deepest(body) == UNPROCESSABLE
    depth = 0
    value = body
    while isinstance(value, dict):
        value, depth = value["next"], depth + 1
    assert depth == MAX_DEPTH
    assert dict(record.log_record.attributes or {}) == {"db_password": MARKER}
    assert pipes.redactions("kaizen.redactions.unprocessable") == {"log": 1}


def test_shallow_nesting_is_scrubbed_in_full() -> None:
    scrubbed = Redactor().redact_mapping(nested(MAX_DEPTH - 1, "password=abc12345"))
    assert deepest(scrubbed) == {"leaf": "password=[REDACTED:secret]"}


def test_a_cyclic_structure_is_cut_and_every_secret_in_it_scrubbed() -> None:
    cyclic: dict[str, Any] = {"dsn": "postgres://app:Tr0ub4dor3@db/x"}
    cyclic["self"] = cyclic
    items: list[Any] = ["Bearer 9f8e7d6c5b4a39281706f5e4"]
    items.append(items)
    scrubbed = Redactor().redact_mapping({"a": cyclic, "b": items})
    assert "Tr0ub4dor3" not in str(scrubbed)
    assert "9f8e7d6c5b4a" not in str(scrubbed)
    assert UNPROCESSABLE in str(scrubbed)


def test_a_mapping_that_cannot_be_walked_is_replaced_whole(pipes: Pipelines) -> None:
    record = emit_log(pipes, {"ok": "fine", "bad": RaisingMapping(password="hunter2")}, {})
    assert record.log_record.body == {"ok": "fine", "bad": UNPROCESSABLE}


def test_an_audit_record_that_cannot_be_walked_at_all_is_stored_as_a_marker() -> None:
    assert Redactor().redact_mapping(RaisingMapping(password="hunter2")) == {"redaction": UNPROCESSABLE}


def test_odd_keys_are_scrubbed_as_text() -> None:
    class Key:
        def __str__(self) -> str:
            return "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"

    scrubbed = Redactor().redact_mapping({Key(): "v", 7: "password=abc12345"})  # type: ignore[dict-item]
    assert scrubbed == {"[REDACTED:api_key]": "v", 7: "password=[REDACTED:secret]"}


def test_a_secret_used_as_a_key_is_renamed_and_its_value_replaced() -> None:
    scrubbed = Redactor().redact_mapping({"sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z": "prod"})
    assert scrubbed == {"[REDACTED:api_key]": MARKER}


def test_a_span_processor_step_that_fails_replaces_its_part_and_the_span_still_ends(
    pipes: Pipelines,
) -> None:
    tracer = pipes.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("s", attributes={"password": "p", "note": "ok"}) as span:
        span._events = None  # type: ignore[attr-defined]  # a broken span: iterating events still works
        span._status = object()  # type: ignore[attr-defined]  # a status nobody can read
    exported = pipes.only_span()
    assert dict(exported.attributes or {}) == {"password": MARKER, "note": "ok"}
    assert exported.status.description == UNPROCESSABLE
    assert pipes.redactions("kaizen.redactions.unprocessable") == {"span": 1}


def test_a_structure_sharing_itself_exponentially_is_cut_by_the_container_budget() -> None:
    """30 levels of ``[inner, inner]`` are 2^30 paths: the walk stops after MAX_CONTAINERS."""
    shared: Any = ["password=abc12345"]
    for _ in range(30):
        shared = [shared, shared]
    scrubbed = Redactor().scrub_body(shared)[0]
    text = str(scrubbed)
    assert "abc12345" not in text
    assert UNPROCESSABLE in text
    assert text.count("password=[REDACTED:secret]") < MAX_CONTAINERS
