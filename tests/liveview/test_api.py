"""The JSON API and the page on the one HTTP server, as a browser or another process sees them."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from opentelemetry import _logs, trace

import kaizen_otel
from kaizen_otel._internal.settings import resolve
from kaizen_otel.genai import agent_run, llm_call, tool_call


def _request(
    obs: Any, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    host, port = obs.metrics_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _json(obs: Any, path: str) -> Any:
    status, _, body = _request(obs, path)
    assert status == 200, body
    return json.loads(body)


def _configure(clean_env: pytest.MonkeyPatch, **overrides: Any) -> Any:
    return kaizen_otel.configure(
        service_name="api-test", prometheus_port=0, logs_exporter="none", **overrides
    )


def _one_run() -> None:
    with agent_run("planner", agent_id="planner-1"):
        with llm_call("openai", "gpt-4o") as call:
            call.record_usage(input_tokens=1000, output_tokens=100)
        with tool_call("search"):
            pass


def test_runs_are_listed_with_totals_and_one_run_opens_with_its_span_tree(
    clean_env: pytest.MonkeyPatch,
) -> None:
    obs = _configure(clean_env)
    assert obs.live_view_url.endswith("/ui/")
    _one_run()
    document = _json(obs, "/api/runs")
    (run,) = document["runs"]
    assert (run["agent"], run["agent_id"], run["status"]) == ("planner", "planner-1", "ok")
    assert (run["input_tokens"], run["output_tokens"], run["llm_calls"], run["tool_calls"]) == (
        1000,
        100,
        1,
        1,
    )
    assert run["cost_usd"] == pytest.approx(kaizen_otel.usage_summary()["cost_usd"])
    assert document["totals"]["spans"] == 3
    assert document["service"] == "api-test"
    detail = _json(obs, f"/api/runs/{run['id']}")
    assert [(span["depth"], span["operation"]) for span in detail["spans"]] == [
        (0, "invoke_agent"),
        (1, "chat"),
        (1, "execute_tool"),
    ]


def test_a_poll_with_the_current_version_answers_unchanged_until_something_happens(
    clean_env: pytest.MonkeyPatch,
) -> None:
    obs = _configure(clean_env)
    _one_run()
    version = _json(obs, "/api/runs")["version"]
    assert _json(obs, f"/api/runs?since={version}") == {"version": version, "unchanged": True}
    _one_run()
    later = _json(obs, f"/api/runs?since={version}")
    assert later["version"] > version
    assert len(later["runs"]) == 2


def test_an_unknown_run_is_a_404_and_the_page_and_its_assets_are_served(
    clean_env: pytest.MonkeyPatch,
) -> None:
    obs = _configure(clean_env)
    assert _request(obs, "/api/runs/00000000deadbeef")[0] == 404
    assert _request(obs, "/api/runs/not-hex")[0] == 404
    status, headers, body = _request(obs, "/ui/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert b'<script src="app.js"' in body
    for asset, kind in (("/ui/app.js", "text/javascript"), ("/ui/style.css", "text/css")):
        status, headers, _ = _request(obs, asset)
        assert (status, headers["Content-Type"].split(";")[0]) == (200, kind)
    status, headers, _ = _request(obs, "/")
    assert (status, headers["Location"]) == (302, "/ui/")
    assert _request(obs, "/metrics")[0] == 200


def test_nothing_on_the_page_comes_from_another_origin(clean_env: pytest.MonkeyPatch) -> None:
    obs = _configure(clean_env)
    for asset in ("/ui/", "/ui/app.js", "/ui/style.css"):
        body = _request(obs, asset)[2].decode().replace('"http://www.w3.org/2000/svg"', "SVG_NAMESPACE")
        assert "http://" not in body and "https://" not in body and "//cdn" not in body


def test_a_request_addressed_to_another_host_name_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    """A page on evil.example that rebinds its name to 127.0.0.1 cannot read the runs."""
    obs = _configure(clean_env)
    status, _, body = _request(obs, "/api/runs", headers={"Host": "evil.example:9464"})
    assert status == 403
    assert b"loopback" in body
    assert _request(obs, "/api/runs", headers={"Host": "localhost:9464"})[0] == 200
    assert _request(obs, "/metrics", headers={"Host": "evil.example:9464"})[0] == 200


def test_verifying_the_audit_trail_needs_the_page_header_and_reports_the_result(
    clean_env: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    obs = _configure(clean_env, enable_audit=True, audit_path=str(tmp_path / "audit.jsonl"))
    obs.audit.record("planner-1", "deploy", {"target": "staging", "token": "Bearer abc.def.ghi"})
    tail = _json(obs, "/api/audit")
    assert tail["enabled"] is True and tail["verify"] is None
    (record,) = tail["records"]
    assert (record["agent_id"], record["action"], record["result"]) == ("planner-1", "deploy", "success")
    assert "abc.def.ghi" not in json.dumps(record)
    assert _request(obs, "/api/audit/verify", method="POST")[0] == 403
    status, _, body = _request(obs, "/api/audit/verify", method="POST", headers={"X-Kaizen-Live": "1"})
    assert status == 200
    verified = json.loads(body)["verify"]
    assert verified["ok"] is True and verified["records"] >= 1
    assert _json(obs, "/api/audit")["verify"]["ok"] is True


def test_a_non_loopback_bind_without_the_setting_refuses_the_live_view_but_serves_metrics(
    clean_env: pytest.MonkeyPatch,
) -> None:
    obs = _configure(clean_env, prometheus_host="0.0.0.0")
    assert obs.live_view_url is None and obs.live_store is None
    for path in ("/ui/", "/api/runs"):
        status, _, body = _request(obs, path.replace("0.0.0.0", "127.0.0.1"))
        assert status == 403
        assert b"live_view_allow_remote" in body
    assert _request(obs, "/metrics")[0] == 200


def test_a_non_loopback_bind_serves_the_live_view_when_the_setting_allows_it(
    clean_env: pytest.MonkeyPatch,
) -> None:
    obs = _configure(clean_env, prometheus_host="0.0.0.0", live_view_allow_remote=True)
    _one_run()
    status, _, _ = _request(obs, "/api/runs", headers={"Host": "agents.internal:9464"})
    assert status == 200


def test_one_setting_turns_the_live_view_off(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KAIZEN_OTEL_LIVE_VIEW", "false")
    obs = _configure(clean_env)
    assert obs.live_view_url is None and obs.live_store is None
    assert _request(obs, "/api/runs")[0] == 404
    assert _request(obs, "/ui/")[0] == 404


def test_an_otlp_endpoint_turns_the_live_view_off_by_default_unless_asked_for() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    assert resolve(environ={}).settings.live_view is True
    with_otlp = resolve(environ=endpoint)
    assert with_otlp.settings.live_view is False
    assert with_otlp.sources["live_view"] == "default (OTLP endpoint set)"
    asked = resolve(environ={**endpoint, "KAIZEN_OTEL_LIVE_VIEW": "true"})
    assert (asked.settings.live_view, asked.sources["live_view"]) == (True, "KAIZEN_OTEL_LIVE_VIEW")


def test_bad_live_view_settings_name_the_setting_and_what_is_allowed() -> None:
    with pytest.raises(ValueError, match=r"live_view_runs.*an integer from 1 to 100000"):
        resolve({"live_view_runs": 0})
    with pytest.raises(ValueError, match="live_view_max_bytes"):
        resolve(environ={"KAIZEN_OTEL_LIVE_VIEW_MAX_BYTES": "lots"})


def test_the_store_is_fed_after_redaction(clean_env: pytest.MonkeyPatch) -> None:
    obs = _configure(clean_env)
    with agent_run("planner", attributes={"password": "hunter2-hunter2"}):
        pass
    run = _json(obs, "/api/runs")["runs"][0]
    detail = _json(obs, f"/api/runs/{run['id']}")
    assert detail["spans"][0]["attributes"]["password"].startswith("[REDACTED")
    assert "hunter2" not in json.dumps(detail)


def test_third_party_spans_and_their_log_records_reach_the_page_through_configure(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The store follows another producer's spans under configure(): a lone model call is a run,
    an HTTP span inside a tool joins its run, a log record in that span joins it, a nested
    model call is not counted twice."""
    obs = kaizen_otel.configure(service_name="api-test", prometheus_port=0, logs_exporter="console")
    tracer = trace.get_tracer("someone-elses-instrumentation")
    logger = _logs.get_logger("someone-elses-logger")
    with tracer.start_as_current_span(
        "invoke_agent researcher",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher"},
    ):
        with tracer.start_as_current_span(
            "chat gpt-4o", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
        ) as outer:
            outer.set_attributes({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2})
            with tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}):
                pass
        with (
            tracer.start_as_current_span(
                "execute_tool fetch", attributes={"gen_ai.operation.name": "execute_tool"}
            ),
            tracer.start_as_current_span("GET /page"),
        ):
            logger.emit(body="fetched the page", severity_text="INFO")
    with tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}):
        pass
    with tracer.start_as_current_span("GET /health"):
        pass
    runs = _json(obs, "/api/runs")["runs"]
    assert [(run["operation"], run["llm_calls"], run["tool_calls"]) for run in runs] == [
        ("chat", 1, 0),
        ("invoke_agent", 1, 1),
    ]
    assert (runs[1]["agent"], runs[1]["input_tokens"], runs[1]["spans"]) == ("researcher", 10, 5)
    detail = _json(obs, f"/api/runs/{runs[1]['id']}")
    assert [(span["depth"], span["name"]) for span in detail["spans"]] == [
        (0, "invoke_agent researcher"),
        (1, "chat gpt-4o"),
        (2, "chat gpt-4o"),
        (1, "execute_tool fetch"),
        (2, "GET /page"),
    ]
    assert [log["body"] for log in detail["logs"]] == ["fetched the page"]
    assert detail["logs"][0]["span"] == detail["spans"][-1]["id"]


def test_the_live_view_is_on_in_a_plain_configure(clean_env: pytest.MonkeyPatch) -> None:
    obs = _configure(clean_env)
    assert obs.live_store is not None
    assert obs.live_store.max_runs == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example", False),
        ("", False),
    ],
)
def test_only_loopback_names_and_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    from kaizen_otel.liveview import is_loopback

    assert is_loopback(host) is loopback


def test_an_ipv6_loopback_host_header_with_a_port_is_accepted(clean_env: pytest.MonkeyPatch) -> None:
    obs = _configure(clean_env)
    assert _request(obs, "/api/runs", headers={"Host": "[::1]:9464"})[0] == 200
    assert _request(obs, "/api/runs", headers={"Host": "[::1].evil.example"})[0] == 403


def test_a_post_body_is_read_so_the_next_request_on_the_connection_still_works(
    clean_env: pytest.MonkeyPatch,
) -> None:
    obs = _configure(clean_env)
    host, port = obs.metrics_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/api/runs", body=b"x" * 1000)
        first = connection.getresponse()
        first.read()
        connection.request("GET", "/api/runs")
        second = connection.getresponse()
        assert (first.status, second.status) == (405, 200)
        assert json.loads(second.read())["runs"] == []
    finally:
        connection.close()
