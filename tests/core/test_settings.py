"""The settings table and its one resolver."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from kaizen_otel import KaizenConfigError
from kaizen_otel._internal.settings import Settings, resolve, setting_specs


def test_an_argument_wins_over_kaizen_variables_which_win_over_standard_ones() -> None:
    env = {"KAIZEN_OTEL_SERVICE_NAME": "from-kaizen", "OTEL_SERVICE_NAME": "from-otel"}
    assert resolve({"service_name": "from-arg"}, environ=env).settings.service_name == "from-arg"
    assert resolve({}, environ=env).settings.service_name == "from-kaizen"
    assert resolve({}, environ={"OTEL_SERVICE_NAME": "from-otel"}).settings.service_name == "from-otel"
    assert resolve({}, environ={}).settings.service_name == "unknown_service"


def test_each_value_reports_where_it_came_from() -> None:
    resolved = resolve({"service_name": "a"}, environ={"OTEL_EXPORTER_PROMETHEUS_PORT": "9999"})
    assert resolved.sources["service_name"] == "argument"
    assert resolved.sources["prometheus_port"] == "OTEL_EXPORTER_PROMETHEUS_PORT"
    assert resolved.sources["prometheus_host"] == "default"


def test_an_empty_variable_counts_as_unset() -> None:
    env = {"KAIZEN_OTEL_SERVICE_NAME": "", "OTEL_SERVICE_NAME": "svc"}
    assert resolve({}, environ=env).settings.service_name == "svc"


def test_a_bad_argument_names_the_setting_the_value_and_what_is_allowed() -> None:
    with pytest.raises(KaizenConfigError) as caught:
        resolve({"prometheus_port": 70000}, environ={})
    assert str(caught.value) == (
        "invalid value for prometheus_port (from argument): 70000; expected an integer from 0 to 65535"
    )


def test_a_bad_kaizen_variable_raises_with_the_variable_named() -> None:
    with pytest.raises(KaizenConfigError) as caught:
        resolve({}, environ={"KAIZEN_OTEL_TRACES_EXPORTER": "jaeger"})
    assert str(caught.value) == (
        "invalid value for traces_exporter (from KAIZEN_OTEL_TRACES_EXPORTER): 'jaeger'; "
        "expected a comma-separated list of otlp, console, none"
    )


def test_a_bad_boolean_lists_the_accepted_spellings() -> None:
    with pytest.raises(KaizenConfigError) as caught:
        resolve({}, environ={"KAIZEN_OTEL_ENABLE_AUDIT": "maybe"})
    assert str(caught.value) == (
        "invalid value for enable_audit (from KAIZEN_OTEL_ENABLE_AUDIT): 'maybe'; "
        "expected one of true, false (also 1/0, yes/no, on/off)"
    )


def test_content_capture_reads_the_genai_content_modes_of_the_standard_variable() -> None:
    def capture(value: str, variable: str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") -> bool:
        return resolve({}, environ={variable: value}).settings.capture_message_content

    assert capture("SPAN_AND_EVENT") and capture("span_only") and capture("EVENT_ONLY") and capture("true")
    assert not capture("NO_CONTENT") and not capture("false")
    # ours wins: an instrumentation may record content while kaizen_otel keeps it out of every sink
    both = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT"}
    assert not resolve(
        {}, environ={**both, "KAIZEN_OTEL_CAPTURE_MESSAGE_CONTENT": "false"}
    ).settings.capture_message_content
    with pytest.raises(KaizenConfigError) as caught:
        capture("spans", "KAIZEN_OTEL_CAPTURE_MESSAGE_CONTENT")
    assert "NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT" in str(caught.value)


def test_an_unknown_argument_is_refused() -> None:
    with pytest.raises(KaizenConfigError) as caught:
        resolve({"sevice_name": "typo"}, environ={})
    assert str(caught.value) == (
        "invalid value for sevice_name (from argument): 'typo'; "
        "expected a known setting (see docs/configuration.md)"
    )


def test_a_bad_standard_variable_is_logged_and_the_default_used(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kaizen_otel.settings"):
        resolved = resolve({}, environ={"OTEL_TRACES_SAMPLER_ARG": "lots"})
    assert resolved.settings.traces_sampler_arg == 1.0
    assert resolved.sources["traces_sampler_arg"] == "default"
    assert "invalid value for traces_sampler_arg (from OTEL_TRACES_SAMPLER_ARG): 'lots'" in caplog.text


def test_lenient_mode_logs_a_bad_kaizen_value_and_uses_the_default() -> None:
    resolved = resolve({}, environ={"KAIZEN_OTEL_PROMETHEUS_PORT": "http"}, strict=False)
    assert resolved.settings.prometheus_port == 9464
    assert resolved.problems == (
        "invalid value for prometheus_port (from KAIZEN_OTEL_PROMETHEUS_PORT): 'http'; "
        "expected an integer from 0 to 65535; using the default",
    )


def test_without_an_endpoint_nothing_leaves_the_machine() -> None:
    settings = resolve({}, environ={}).settings
    assert settings.traces_exporter == ("none",)
    assert settings.metrics_exporter == ("prometheus",)
    assert settings.logs_exporter == ("console",)


def test_an_otlp_endpoint_turns_otlp_on_for_every_signal() -> None:
    resolved = resolve({}, environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert resolved.settings.traces_exporter == ("otlp",)
    assert resolved.settings.metrics_exporter == ("prometheus", "otlp")
    assert resolved.settings.logs_exporter == ("console", "otlp")
    assert resolved.sources["traces_exporter"] == "default (OTLP endpoint set)"


def test_a_signal_endpoint_turns_otlp_on_for_that_signal_only() -> None:
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    settings = resolve({}, environ=env).settings
    assert settings.traces_exporter == ("otlp",)
    assert settings.logs_exporter == ("console",)


def test_an_explicit_exporter_list_is_kept_as_given() -> None:
    env = {"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}
    assert resolve({}, environ=env).settings.logs_exporter == ("otlp",)
    assert resolve({"traces_exporter": ["console"]}, environ={}).settings.traces_exporter == ("console",)


def test_none_cannot_be_combined_with_an_exporter() -> None:
    with pytest.raises(KaizenConfigError):
        resolve({"traces_exporter": "none,otlp"}, environ={})


def test_resource_attributes_use_the_standard_format() -> None:
    env = {"OTEL_RESOURCE_ATTRIBUTES": "team=agents,tier=gold%20plus"}
    settings = resolve({}, environ=env).settings
    assert settings.resource_attributes == {"team": "agents", "tier": "gold plus"}


def test_the_sdk_disabled_switch_follows_the_standard_variable() -> None:
    assert resolve({}, environ={"OTEL_SDK_DISABLED": "true"}).settings.sdk_disabled is True


def test_settings_are_frozen() -> None:
    settings = resolve({}, environ={}).settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.service_name = "other"  # type: ignore[misc]


def test_every_setting_has_variables_a_kind_and_a_doc() -> None:
    specs = setting_specs()
    assert [spec.name for spec in specs] == [f.name for f in dataclasses.fields(Settings)]
    for spec in specs:
        assert spec.env and spec.env[0].startswith("KAIZEN_OTEL_"), spec.name
        assert spec.doc.endswith("."), spec.name


def test_no_other_module_reads_the_environment() -> None:
    import pathlib

    package = pathlib.Path(__file__).resolve().parents[2] / "kaizen_otel"
    readers = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "os.environ" in path.read_text() or "os.getenv" in path.read_text()
    ]
    assert readers == ["_internal/settings.py"]


def test_settings_compare_by_value_and_refuse_unknown_fields() -> None:
    first = resolve({"service_name": "a"}, environ={}).settings
    assert first == resolve({"service_name": "a"}, environ={}).settings
    assert first != resolve({"service_name": "b"}, environ={}).settings
    with pytest.raises(TypeError, match="unexpected keyword argument 'sevice_name'"):
        Settings(sevice_name="typo")


def test_a_secret_setting_never_shows_in_the_repr() -> None:
    settings = resolve({"audit_key": "hmac-key-1234"}, environ={}).settings
    assert "hmac-key-1234" not in repr(settings)
    assert "audit_key='***'" in repr(settings)
    assert "audit_key=None" in repr(resolve({}, environ={}).settings)
