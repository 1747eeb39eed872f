"""``make bench-check``: a figure worse than allowed is measured again before the check fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import check


def _baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"gates": {"step": {"value": 1.0, "tolerance": 0.1}}}))
    return path


def _measures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, figures: list[float]) -> list[float]:
    monkeypatch.setattr(check, "BASELINE", _baseline(tmp_path))
    left = list(figures)
    monkeypatch.setattr(check, "measure", lambda: {"step": left.pop(0)})
    return left


def test_a_slow_moment_passes_on_a_later_attempt(monkeypatch, tmp_path, capsys):
    left = _measures(monkeypatch, tmp_path, [1.5, 1.05, 1.4])
    assert check.main([]) == 0
    assert left == [1.4]  # stopped once the figure passed
    assert "ok   step: 1.050" in capsys.readouterr().out


def test_a_regression_fails_every_attempt_and_the_check(monkeypatch, tmp_path, capsys):
    left = _measures(monkeypatch, tmp_path, [1.5, 1.3, 1.6])
    assert check.main([]) == 1
    assert left == []
    assert capsys.readouterr().out.rstrip().endswith("FAIL step: 1.300 (baseline 1.000, allowed up to 1.100)")


def test_a_passing_figure_is_measured_once(monkeypatch, tmp_path):
    left = _measures(monkeypatch, tmp_path, [1.0, 9.0, 9.0])
    assert check.main([]) == 0
    assert left == [9.0, 9.0]
