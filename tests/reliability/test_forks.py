"""Forks after configure(): each child exports what it recorded after the fork, under its own
``service.instance.id``; nothing is counted twice; audit appends from children keep one chain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_otel.audit import verify_trail
from tests.reliability.apps.runner import app_environment, run_app
from tests.testbed.servers import Rotel

CHILDREN = 3


def _latest_runs_by_instance(rotel: Rotel, service: str, agent: str) -> dict[str, float]:
    """The last cumulative ``kaizen.agent.runs`` value each process exported for ``agent``."""
    latest: dict[str, tuple[int, float]] = {}
    for record in rotel.received("metric", service_name=service):
        if record["name"] != "kaizen.agent.runs" or record["attributes"].get("gen_ai.agent.name") != agent:
            continue
        instance = record["resource"]["service.instance.id"]
        stamp = int(record["time_unix_nano"])
        if instance not in latest or stamp >= latest[instance][0]:
            latest[instance] = (stamp, float(record["value"]))
    return {instance: value for instance, (_, value) in latest.items()}


@pytest.mark.parametrize("mode", ["os-fork", "multiprocessing"])
def test_forked_children_export_only_what_they_recorded_under_their_own_instance_id(
    rotel: Rotel, tmp_path: Path, mode: str
) -> None:
    service = f"fork-app-{mode}"
    env = app_environment(
        **rotel.otlp_env("grpc"),
        KAIZEN_OTEL_SERVICE_NAME=service,
        KAIZEN_OTEL_PROMETHEUS_PORT="0",
        KAIZEN_OTEL_METRICS_EXPORTER="otlp",
        KAIZEN_OTEL_LOGS_EXPORTER="none",
        KAIZEN_OTEL_ENABLE_AUDIT="true",
        KAIZEN_OTEL_AUDIT_PATH=str(tmp_path / "audit.jsonl"),
    )
    run = run_app("tests.reliability.apps.fork_app", mode, mode, str(CHILDREN), env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    done = run.phase("done")
    assert done["statuses"] == [0] * CHILDREN
    instances = done["instances"]
    assert len(set(instances)) == 1 + CHILDREN
    agent = f"fork-{mode}"
    rotel.wait_for(
        lambda r: r.get("name") == "kaizen.agent.runs" and r.get("service_name") == service,
        count=1 + CHILDREN,
    )
    by_instance = _latest_runs_by_instance(rotel, service, agent)
    assert by_instance == {instances[0]: 10.0, **{child: 5.0 for child in instances[1:]}}
    assert sum(by_instance.values()) == 10 + 5 * CHILDREN


@pytest.mark.parametrize("mode", ["os-fork"])
def test_audit_appends_from_forked_children_keep_one_valid_chain(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "audit.jsonl"
    env = app_environment(
        KAIZEN_OTEL_SERVICE_NAME="fork-audit",
        KAIZEN_OTEL_PROMETHEUS_PORT="0",
        KAIZEN_OTEL_LOGS_EXPORTER="none",
        KAIZEN_OTEL_ENABLE_AUDIT="true",
        KAIZEN_OTEL_AUDIT_PATH=str(path),
    )
    run = run_app("tests.reliability.apps.fork_app", "audit", mode, str(CHILDREN), env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    report = verify_trail(str(path))
    assert report.ok, report.problems
    assert report.records >= 1 + 3 * CHILDREN
