"""`opentelemetry-instrument` with environment variables only runs the same setup as configure()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

APP = Path(__file__).parent / "apps" / "env_only_app.py"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"


def _run(env_extra: dict[str, str], extra_path: Path | None = None) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update({"KAIZEN_OTEL_PROMETHEUS_PORT": "0", "KAIZEN_OTEL_PROMETHEUS_HOST": "127.0.0.1"})
    env.update(env_extra)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(APP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_env_only_auto_instrumentation_installs_kaizen_providers() -> None:
    report, stderr = _run({"OTEL_SERVICE_NAME": "env-only"})
    assert report["configured_by"] == "opentelemetry-instrument"
    assert report["tracer_provider"] == "TracerProvider"
    assert report["logger_provider"] == "LoggerProvider"
    assert report["metrics_has_job_counter"] is True
    assert "planning step done" in stderr


def test_a_bad_value_under_auto_instrumentation_is_logged_once_and_the_app_runs() -> None:
    report, stderr = _run({"KAIZEN_OTEL_TRACES_SAMPLER": "sometimes"})
    assert report["configured_by"] == "opentelemetry-instrument"
    assert report["problems"] == [
        "invalid value for traces_sampler (from KAIZEN_OTEL_TRACES_SAMPLER): 'sometimes'; "
        "expected one of always_on, always_off, traceidratio, parentbased_always_on, "
        "parentbased_always_off, parentbased_traceidratio; using the default"
    ]
    assert stderr.count("invalid value for traces_sampler") == 1


def _other_distro(tmp_path: Path) -> Path:
    """A second distro + configurator on the path, named to be found before ours."""
    (tmp_path / "aaa_other_distro.py").write_text(
        textwrap.dedent("""
        import os
        from opentelemetry.instrumentation.distro import BaseDistro
        from opentelemetry.sdk._configuration import _BaseConfigurator

        class OtherDistro(BaseDistro):
            def _configure(self, **kwargs):
                open(os.environ["OTHER_MARKER"], "a").write("distro\\n")

        class OtherConfigurator(_BaseConfigurator):
            def _configure(self, **kwargs):
                open(os.environ["OTHER_MARKER"], "a").write("configurator\\n")
    """)
    )
    info = tmp_path / "aaa_other_distro-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aaa-other-distro\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_distro]\nother = aaa_other_distro:OtherDistro\n\n"
        "[opentelemetry_configurator]\nother = aaa_other_distro:OtherConfigurator\n"
    )
    return tmp_path


def test_with_another_distro_installed_the_variables_pin_kaizen(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    path = _other_distro(tmp_path / "site")
    marker = tmp_path / "marker"
    report, _ = _run(
        {
            "OTHER_MARKER": str(marker),
            "OTEL_PYTHON_DISTRO": "kaizen_otel",
            "OTEL_PYTHON_CONFIGURATOR": "kaizen_otel",
        },
        extra_path=path,
    )
    assert report["configured_by"] == "opentelemetry-instrument"
    assert not marker.exists()


def test_the_other_distro_is_really_visible_to_opentelemetry_instrument(tmp_path: Path) -> None:
    """Control for the test above: pinning the other configurator runs it instead of ours."""
    (tmp_path / "site").mkdir()
    path = _other_distro(tmp_path / "site")
    marker = tmp_path / "marker"
    report, _ = _run(
        {
            "OTHER_MARKER": str(marker),
            "OTEL_PYTHON_DISTRO": "other",
            "OTEL_PYTHON_CONFIGURATOR": "other",
        },
        extra_path=path,
    )
    assert report["configured_by"] is None
    assert marker.read_text().split() == ["distro", "configurator"]
