"""`kaizen-otel config` and the generated configuration reference."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen_otel.cli import build_parser, configuration_reference, main


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


def _every_command(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Each command path of the parser (``()``, ``("demo",)``, ``("audit", "verify")``, ...)."""
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _every_command(child, (*prefix, name))
    return found


COMMANDS = _every_command(build_parser())


def test_the_command_list_covers_every_subcommand() -> None:
    assert {("config",), ("demo",), ("audit", "verify"), ("audit", "query"), ("audit", "tail")} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "kaizen-otel")
def test_every_command_takes_help_and_exits_0(
    command: tuple[str, ...], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, flag])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: kaizen-otel")


def test_demo_help_lists_its_options_from_the_installed_script() -> None:
    script = Path(sys.executable).with_name("kaizen-otel")
    done = subprocess.run([str(script), "demo", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--iterations", "--agents", "--seed", "--hold", "--port", "--budget-usd", "--audit-path"):
        assert option in done.stdout


def test_demo_runs_with_the_options_given_on_the_command_line(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = tmp_path / "audit.jsonl"
    options = ["--iterations", "2", "--agents", "1", "--seed", "3", "--hold", "0", "--port", "0"]
    code = main(["demo", *options, "--audit-path", str(audit)])
    captured = capsys.readouterr()
    assert code == 0
    assert "1 agents x 2 iterations, seed 3" in captured.err
    assert "researcher: done" in captured.out
    assert "(2 agent runs, 2 LLM calls" in captured.out  # the supervisor's run and one worker's
    assert f"audit    {audit}" in captured.out


def test_a_bad_demo_option_through_the_cli_names_it_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--agents", "9", "--hold", "0"]) == 2
    assert "--agents" in capsys.readouterr().err
