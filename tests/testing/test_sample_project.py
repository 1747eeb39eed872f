"""A user's project with 20+ tests on the kaizen_telemetry fixture passes in random order and alone.

The project in ``sample_project/`` is copied to a temporary folder and run by a separate pytest,
as its owner would run it: the fixture comes from the installed ``pytest11`` entry point, the
order from pytest-randomly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).with_name("sample_project")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("user-project") / "project"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAIZEN_OTEL_", "OTEL_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_sample_project_has_more_than_20_tests(project: Path) -> None:
    done = _pytest(project, "--collect-only", "-p", "no:randomly")
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(ids) > 20, done.stdout


def _ran(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.split(" ")[0] for line in done.stdout.splitlines() if line.endswith("%]") and "::" in line]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sample_project_passes_in_random_order(project: Path, seed: int) -> None:
    in_file_order = _ran(_pytest(project, "-vv", "-p", "no:randomly"))
    done = _pytest(project, "-vv", "-p", "randomly", f"--randomly-seed={seed}")
    assert done.returncode == 0, done.stdout + done.stderr
    ran = _ran(done)
    assert sorted(ran) == sorted(in_file_order) and len(ran) > 20
    assert ran != in_file_order  # pytest-randomly really shuffled them


def test_every_sample_test_passes_alone(project: Path) -> None:
    listed = _pytest(project, "--collect-only", "-p", "no:randomly")
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda test_id: _pytest(project, "-p", "no:randomly", test_id), ids)
        results = list(zip(ids, runs, strict=True))
    failed = {test_id: done.stdout[-800:] for test_id, done in results if done.returncode != 0}
    assert not failed, failed
    assert len(results) > 20
