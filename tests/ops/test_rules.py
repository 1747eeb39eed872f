"""The Prometheus and Alertmanager configuration of deploy/, checked by the servers' own tools.

``promtool test rules`` runs the unit tests of every alert (deploy/prometheus/tests); the checks
here also make sure no alert is left without a test that fires it and one that keeps it silent,
and that each alert's runbook exists in docs/deploy.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.ops.conftest import REPO
from tests.testbed.fixtures import require

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
ALERT_TESTS = PROMETHEUS / "tests" / "kaizen-alerts.test.yml"
ALERTMANAGER = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DEPLOY_DOC = REPO / "docs" / "deploy.md"

pytestmark = pytest.mark.integration


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"`{name}` (Debian package `{package}`)")
    assert path is not None
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _alerts() -> list[dict[str, Any]]:
    found = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [rule for rule in group["rules"] if "alert" in rule]
    return found


def test_promtool_accepts_the_prometheus_config_and_its_rule_files() -> None:
    result = _run(_tool("promtool", "prometheus"), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rule files found" in result.stdout


def test_promtool_accepts_every_rule_file() -> None:
    result = _run(_tool("promtool", "prometheus"), "check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_promtool_unit_tests() -> None:
    result = _run(_tool("promtool", "prometheus"), "test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_keeps_it_silent() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - fires == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown staying silent"


def test_every_alert_says_what_happened_how_bad_and_where_its_runbook_is() -> None:
    doc = DEPLOY_DOC.read_text()
    anchors = {_anchor(line) for line in doc.splitlines() if line.startswith("#")}
    for rule in _alerts():
        annotations, labels = rule["annotations"], rule["labels"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert labels["severity"] in {"warning", "critical"}, rule["alert"]
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/deploy.md" and anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"docs/deploy.md has no section for {rule['alert']}"


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^a-z0-9 _-]", "", text).replace(" ", "-")


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = _run(_tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr
