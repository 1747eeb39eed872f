"""Generated structures (deep, cyclic, odd types, secrets anywhere) never come out holding a secret."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizen_otel.redaction import MAX_DEPTH, Redactor
from tests.redaction.conftest import ArrayLike, build
from tests.redaction.corpus import SECRETS

REDACTOR = Redactor()
PIPES = build()
SECRET_TEXTS = [entry.text for entry in SECRETS]
#: 10-character runs of every secret (spaces, dashes and newlines removed), and which secret each is.
RUNS = {
    run: entry.kind
    for entry in SECRETS
    for compact in [entry.secret.replace(" ", "").replace("-", "").replace("\n", "")]
    for run in (compact[i : i + 10] for i in range(0, max(len(compact) - 9, 1), 3))
}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Unprintable:
    """An object whose text cannot be had."""

    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


class Printable:
    """An object that prints a secret (a settings object, an exception, a request)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return f"Printable({self.text})"

    __repr__ = __str__


secret_texts = st.sampled_from(SECRET_TEXTS)
texts = st.one_of(
    st.text(max_size=24),
    secret_texts,
    st.builds(lambda a, s, b: f"{a} {s} {b}", st.text(max_size=16), secret_texts, st.text(max_size=16)),
)
leaves = st.one_of(
    texts,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.builds(Printable, texts),
    st.builds(Unprintable),
    st.builds(ArrayLike),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["password", "note", "api_key_id", "authorization", "token_count", "x"]),
    secret_texts,
    st.integers(),
)
structures = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.frozensets(texts, max_size=3),
    ),
    max_leaves=24,
)


def rendered(value: Any) -> str:
    """What a JSON exporter would write; raises on a cycle or an object that cannot print."""
    return json.dumps(value, default=repr, ensure_ascii=False)


def leaked(text: str) -> list[str]:
    squashed = text.replace(" ", "").replace("-", "").replace("\\n", "").replace("\n", "")
    return sorted({kind for run, kind in RUNS.items() if run in squashed})


@SETTINGS
@given(structures)
def test_an_audit_record_never_holds_a_secret(value: Any) -> None:
    assert leaked(rendered(REDACTOR.redact_mapping({"details": value}))) == []


@SETTINGS
@given(structures, st.dictionaries(st.sampled_from(["note", "password", "msg"]), texts, max_size=3))
def test_a_log_record_never_holds_a_secret(body: Any, attributes: dict[str, str]) -> None:
    PIPES.logs.clear()
    PIPES.logger_provider.get_logger("hypothesis").emit(body=body, attributes=attributes, timestamp=1)
    (record,) = PIPES.logs.get_finished_logs()
    log = record.log_record
    assert leaked(rendered({"body": log.body, "attributes": dict(log.attributes or {})})) == []


@SETTINGS
@given(st.integers(min_value=MAX_DEPTH - 3, max_value=300), st.lists(st.booleans(), min_size=1), texts)
def test_deep_nesting_of_mappings_and_lists_is_cut_without_leaking(
    depth: int, kinds: list[bool], leaf: str
) -> None:
    value: Any = leaf
    for level in range(depth):
        value = {"next": value, "note": leaf} if kinds[level % len(kinds)] else [value, leaf]
    assert leaked(rendered(REDACTOR.scrub_body(value)[0])) == []


@SETTINGS
@given(structures, texts)
def test_cyclic_structures_are_cut_without_leaking(value: Any, leaf: str) -> None:
    mapping: dict[str, Any] = {"value": value, "leaf": leaf}
    items: list[Any] = [mapping, leaf]
    mapping["cycle"] = items
    items.append(items)
    out = REDACTOR.redact_mapping({"a": mapping, "b": items})
    assert leaked(rendered(out)) == []
