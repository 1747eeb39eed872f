"""`kaizen-otel config` and the generated configuration reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaizen_otel.cli import configuration_reference, main


def test_config_prints_every_setting_with_its_value_and_source(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("OTEL_SERVICE_NAME", "from-env")
    clean_env.setenv("KAIZEN_OTEL_AUDIT_KEY", "s3cret-key")
    assert main(["config", "--json"]) == 0
    rows = {row["setting"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["service_name"] == {
        "setting": "service_name",
        "value": "from-env",
        "source": "OTEL_SERVICE_NAME",
    }
    assert rows["prometheus_port"]["source"] == "default"
    assert rows["traces_exporter"] == {
        "setting": "traces_exporter",
        "value": "none",
        "source": "default (no OTLP endpoint)",
    }
    assert rows["audit_key"]["value"] == "***"


def test_config_reports_a_bad_value_and_exits_non_zero(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("KAIZEN_OTEL_LOG_LEVEL", "LOUD")
    assert main(["config"]) == 2
    assert "invalid value for log_level (from KAIZEN_OTEL_LOG_LEVEL): 'LOUD'" in capsys.readouterr().err


def test_the_configuration_reference_in_docs_is_up_to_date() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert docs.read_text() == configuration_reference(), "run: make docs"
