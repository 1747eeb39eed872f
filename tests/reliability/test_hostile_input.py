"""Generated hostile input for every public call and every setting (hypothesis).

What an application, a user or a remote API can hand to kaizen_otel: names and attribute values
of every type and size, negative and non-finite numbers, format characters, control characters,
invalid Unicode. The application never sees an exception from us (except ``KaizenConfigError``
from an explicit ``configure()``), ``/metrics`` still passes promtool, and audit lines verify.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kaizen_otel
from kaizen_otel import KaizenConfigError
from kaizen_otel._internal.settings import resolve, setting_specs
from kaizen_otel.audit import verify_trail
from tests.reliability.promtool import promtool_problems

SPECS = {spec.name: spec for spec in setting_specs()}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from('"\\\n\r\t\x00%{}$\u2028\ud7ff\ufeff=,;'), max_size=20),
    st.sampled_from(["%s %d %(x)s {0} {x}", "\x00", "", " ", "a" * 5000, "ünïcødé ☃", "\udcff"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=3), st.tuples(inner, inner)
    ),
    max_leaves=8,
) | st.builds(object)
numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)


def _scrape(obs: kaizen_otel.Observability) -> bytes:
    assert obs.metrics_url is not None
    return urllib.request.urlopen(obs.metrics_url, timeout=10).read()


def test_agent_helpers_never_raise_into_the_app_whatever_they_are_given(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    obs = kaizen_otel.configure(
        service_name="hostile",
        prometheus_port=0,
        logs_exporter="none",
        enable_audit=True,
        audit_path=str(tmp_path / "audit.jsonl"),
        capture_message_content=True,
    )
    log = kaizen_otel.get_logger("hostile")

    @FUZZ
    @given(
        name=texts,
        model=texts,
        tool=texts,
        key=texts,
        value=values,
        tokens=st.tuples(numbers, numbers),
        cost=numbers,
        message=texts,
        fields=st.dictionaries(st.text(min_size=1, max_size=10).filter(str.isidentifier), values, max_size=3),
    )
    def run(
        name: str,
        model: str,
        tool: str,
        key: str,
        value: Any,
        tokens: tuple[Any, Any],
        cost: Any,
        message: str,
        fields: dict[str, Any],
    ) -> None:
        with kaizen_otel.agent_run(name, attributes={key: value}) as run:
            run.set_attribute(key, value)
            run.log(value, {key: value})
            with kaizen_otel.llm_call(name, model) as call:
                call.record_usage(*tokens)
                call.set_response(model=model, finish_reasons=[name], response_id=name, output=value)
                call.set_attribute(key, value)
            with kaizen_otel.tool_call(tool, arguments=value) as tc:
                tc.set_result(value)
                tc.record_cost(cost)
            with kaizen_otel.tool_call(tool):
                pass
            log.info(message, **fields)
            log.error(message, **fields)
            kaizen_otel.inject_context({})
            obs.audit.record(name or "agent", tool or "action", {key: repr(value)[:100]})

    run()
    obs.force_flush()
    assert promtool_problems(_scrape(obs)) == []
    obs.shutdown()
    report = verify_trail(str(tmp_path / "audit.jsonl"))
    assert report.ok, report.problems


def test_a_failing_helper_scope_still_lets_the_app_exception_through_unchanged(clean_env: object) -> None:
    kaizen_otel.configure(prometheus_port=0, logs_exporter="none")

    class AppError(Exception):
        pass

    with pytest.raises(AppError), kaizen_otel.agent_run("\x00\n"), kaizen_otel.tool_call(""):
        raise AppError("the app's own error")


# --------------------------------------------------------------------------------------------------
# Every setting, fuzzed


@FUZZ
@given(name=st.sampled_from(sorted(SPECS)), raw=texts)
def test_a_bad_kaizen_variable_names_its_setting_and_variable_or_falls_back_leniently(
    name: str, raw: str
) -> None:
    spec = SPECS[name]
    var = spec.env[0]
    environ = {var: raw}
    try:
        strict = resolve(environ=environ, strict=True)
    except KaizenConfigError as error:
        assert (error.setting, error.source) == (name, var)
        assert var.startswith("KAIZEN_OTEL_")
        lenient = resolve(environ=environ, strict=False)
        assert getattr(lenient.settings, name) == getattr(resolve(environ={}).settings, name)
        assert [p for p in lenient.problems if name in p] and len(lenient.problems) == 1
        return
    # Accepted as strict (or a standard OTEL_* variable: warned and defaulted, as the spec says).
    assert len(strict.problems) <= 1


@FUZZ
@given(name=st.sampled_from(sorted(SPECS)), value=values)
def test_a_bad_argument_names_its_setting_and_says_argument(name: str, value: Any) -> None:
    try:
        resolve({name: value}, environ={}, strict=True)
    except KaizenConfigError as error:
        assert (error.setting, error.source) == (name, "argument")
        assert name in str(error) and "(from argument)" in str(error)


@pytest.mark.parametrize(
    ("var", "value", "setting"),
    [
        ("KAIZEN_OTEL_PRICING_FILE", "/nonexistent/pricing.json", "pricing_file"),
        ("KAIZEN_OTEL_AUDIT_KEY_FILE", "/nonexistent/key", "audit_key_file"),
        ("KAIZEN_OTEL_PROMETHEUS_HOST", "no-such-host.invalid", "prometheus_host"),
        ("KAIZEN_OTEL_PROMETHEUS_HOST", "10.255.255.1", "prometheus_host"),
    ],
)
def test_errors_found_after_resolving_still_name_the_setting_and_the_variable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, var: str, value: str, setting: str
) -> None:
    clean_env.setenv(var, value)
    clean_env.setenv("KAIZEN_OTEL_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    clean_env.setenv("KAIZEN_OTEL_ENABLE_AUDIT", "true")
    with pytest.raises(KaizenConfigError) as caught:
        kaizen_otel.configure(logs_exporter="none")
    assert (caught.value.setting, caught.value.source) == (setting, var)
    assert f"(from {var})" in str(caught.value)


def test_inject_context_survives_a_bogus_propagator_variable(clean_env: pytest.MonkeyPatch) -> None:
    import sys

    clean_env.setenv("OTEL_PROPAGATORS", "tracecontext,no-such-propagator")
    import opentelemetry

    clean_env.delitem(sys.modules, "opentelemetry.propagate", raising=False)
    clean_env.delattr(opentelemetry, "propagate", raising=False)
    from kaizen_otel.genai import propagation

    clean_env.setattr(propagation, "_propagate_module", None)
    clean_env.setattr(propagation, "_fallback", None)
    kaizen_otel.configure(prometheus_port=0, logs_exporter="none")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("kaizen_otel").addHandler(handler)
    try:
        with kaizen_otel.agent_run("carrier"):
            carrier = kaizen_otel.inject_context()
            kaizen_otel.inject_context()
    finally:
        logging.getLogger("kaizen_otel").removeHandler(handler)
    assert carrier["traceparent"].startswith("00-")
    assert kaizen_otel.extract_context(carrier)
    said = [r.getMessage() for r in records if "OTEL_PROPAGATORS" in r.getMessage()]
    assert len(said) == 1, said
    assert "no-such-propagator" in said[0]


INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
ENV_ONLY_APP = Path(__file__).parents[1] / "core" / "apps" / "env_only_app.py"


@pytest.mark.parametrize("garbage", ["\x01garbage", "-1", "999999999999999999999"])
def test_the_app_runs_under_opentelemetry_instrument_with_garbage_in_every_variable(
    tmp_path: Path, garbage: str
) -> None:
    variables = sorted({var for spec in SPECS.values() for var in spec.env})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(dict.fromkeys(variables, garbage))
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    done = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(ENV_ONLY_APP)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["configured_by"] == "opentelemetry-instrument", report
    for name, spec in SPECS.items():
        assert done.stderr.count(f"invalid value for {name} (from {spec.env[0]})") <= 1
