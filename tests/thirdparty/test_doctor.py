"""``kaizen-otel doctor`` and the WARNING under ``opentelemetry-instrument`` for an instrumentation
that cannot load, as openai-v2 does without ``httpx``: its library is there, its import is not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen_otel._internal.doctor import check_exposition

BIN = Path(sys.executable).parent


@pytest.fixture
def broken_instrumentation(tmp_path: Path) -> dict[str, str]:
    """An installed instrumentation whose module imports a dependency that is missing."""
    info = tmp_path / "kaizen_fake_instrumentation-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kaizen-fake-instrumentation\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\nfakellm = kaizen_fake_instr:FakeInstrumentor\n"
    )
    (tmp_path / "kaizen_fake_instr.py").write_text("import kaizen_missing_dependency  # noqa\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env["PYTHONPATH"] = str(tmp_path)
    return env


def test_doctor_names_the_instrumentation_that_fails_and_why(broken_instrumentation):
    done = subprocess.run(
        [str(BIN / "kaizen-otel"), "doctor"],
        env=broken_instrumentation,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith("fakellm"))
    assert "kaizen-fake-instrumentation 1.0" in line
    assert "FAILS: ModuleNotFoundError: No module named 'kaizen_missing_dependency'" in line
    assert "openai" in done.stdout and "loads" in done.stdout
    assert "distro: kaizen_otel" in done.stdout
    assert "one HELP/TYPE block per family: ok" in done.stdout
    assert done.returncode == 1, done.stdout


def test_under_opentelemetry_instrument_a_failed_instrumentation_is_a_warning_once(broken_instrumentation):
    env = dict(
        broken_instrumentation, OTEL_PYTHON_DISTRO="kaizen_otel", OTEL_PYTHON_CONFIGURATOR="kaizen_otel"
    )
    env.update(OTEL_EXPORTER_PROMETHEUS_PORT="0", OTEL_TRACES_EXPORTER="none")  # logs: console
    done = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", "print('app ran')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "app ran" in done.stdout, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "'fakellm' failed to load" in line]
    assert len(warnings) == 1, done.stderr
    assert "kaizen_missing_dependency" in warnings[0]


def test_the_exposition_check_finds_a_second_block_and_a_unit_family():
    page = (
        "# HELP gen_ai_client_token_usage x\n# TYPE gen_ai_client_token_usage histogram\n"
        "# HELP gen_ai_client_token_usage y\n# TYPE gen_ai_client_token_usage histogram\n"
        "# TYPE gen_ai_client_token_usage_token histogram\n"
    )
    problems = check_exposition(page)
    assert "2 HELP lines for gen_ai_client_token_usage" in problems
    assert any("gen_ai_client_token_usage_token" in p for p in problems)


@pytest.fixture
def raising_then_working_instrumentations(tmp_path: Path) -> dict[str, str]:
    """Two instrumentations of installed libraries: the first raises in ``instrument()``."""
    info = tmp_path / "kaizen_fake_pair-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kaizen-fake-pair\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\n"
        "brokenllm = kaizen_fake_pair:BrokenInstrumentor\n"
        "workingllm = kaizen_fake_pair:WorkingInstrumentor\n"
    )
    (tmp_path / "kaizen_fake_pair.py").write_text(
        "from opentelemetry.instrumentation.instrumentor import BaseInstrumentor\n"
        "class BrokenInstrumentor(BaseInstrumentor):\n"
        "    def instrumentation_dependencies(self):\n"
        "        return []\n"
        "    def _instrument(self, **kwargs):\n"
        "        raise AttributeError(\"module 'fakellm' has no attribute 'Client'\")\n"
        "    def _uninstrument(self, **kwargs):\n"
        "        pass\n"
        "class WorkingInstrumentor(BaseInstrumentor):\n"
        "    def instrumentation_dependencies(self):\n"
        "        return []\n"
        "    def _instrument(self, **kwargs):\n"
        "        print('workingllm instrumented', flush=True)\n"
        "    def _uninstrument(self, **kwargs):\n"
        "        pass\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(
        PYTHONPATH=str(tmp_path), OTEL_PYTHON_DISTRO="kaizen_otel", OTEL_PYTHON_CONFIGURATOR="kaizen_otel"
    )
    env.update(OTEL_EXPORTER_PROMETHEUS_PORT="0", OTEL_TRACES_EXPORTER="none")
    return env


def test_an_instrumentation_raising_in_instrument_does_not_stop_the_ones_after_it(
    raising_then_working_instrumentations,
):
    """Upstream's loader aborts all auto-instrumentation on such an error; our distro goes on."""
    done = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", "print('app ran')"],
        env=raising_then_working_instrumentations,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "app ran" in done.stdout, done.stderr
    assert "workingllm instrumented" in done.stdout, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "'brokenllm' failed to load" in line]
    assert len(warnings) == 1 and "AttributeError" in warnings[0], done.stderr
    assert "Failed to auto initialize" not in done.stderr
