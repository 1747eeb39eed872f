"""The peer comparison's own machinery: it runs offline, and it edits only its section of the page."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.peers import child
from benchmarks.peers import report as peers_report


def test_a_connection_off_this_machine_is_refused_and_listed_while_loopback_still_works() -> None:
    attempts: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))
    undo = child.refuse_network(attempts)
    try:
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
        with pytest.raises(ConnectionRefusedError), socket.socket() as outside:
            outside.connect(("192.0.2.1", 443))
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("pricing.example.invalid", 443)
    finally:
        undo()
        server.close()
    assert attempts == ["connect 192.0.2.1:443", "lookup pricing.example.invalid"]


def test_the_peers_section_is_replaced_in_place_and_the_sections_around_it_stay() -> None:
    page = "# Performance\n\n## Aims\n\nours\n\n## Peers (old)\n\nold figures\n\n## Later\n\nkept\n"
    new = peers_report.splice(page, ["## Peers (new)", "", "new figures", ""])
    assert new == "# Performance\n\n## Aims\n\nours\n\n## Peers (new)\n\nnew figures\n\n## Later\n\nkept\n"
    appended = peers_report.splice("# Performance\n", ["## Peers", "", "x", ""])
    assert appended == "# Performance\n\n## Peers\n\nx\n"


def test_make_bench_writes_the_page_without_a_peers_section_when_the_peers_never_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers_report, "RESULTS", tmp_path / "peers.json")
    page = report.render({})
    assert page.startswith("# Performance")
    assert "## Peers" not in page


def _result(version: str, ratio: float, spans: float, logs: float) -> dict[str, object]:
    return {
        "version": version,
        "opentelemetry_sdk": "1.45.2",
        "python": "3.11.7",
        "steps": 400,
        "rounds": 41,
        "bare_us": 280.0,
        "side_us": 280.0 * ratio,
        "vs_bare": ratio,
        "vs_bare_iqr": [ratio - 0.02, ratio + 0.02],
        "emitted_per_step": {
            "bare": {"spans": 4.0, "logs": 5.0, "metric_series": 11},
            "side": {"spans": spans, "logs": logs, "metric_series": 11},
        },
        "network_attempts": [],
    }


def test_a_rerun_shows_the_ratio_of_the_run_before_only_for_the_same_version() -> None:
    first = peers_report.merge({"logfire": _result("5.4.0", 3.9, 9, 0)}, {})
    again = peers_report.merge({"logfire": _result("5.4.0", 3.8, 9, 0)}, first)
    upgraded = peers_report.merge({"logfire": _result("5.5.0", 3.1, 9, 0)}, again)
    assert again["sides"]["logfire"]["previous_vs_bare"] == 3.9
    assert "previous_vs_bare" not in upgraded["sides"]["logfire"]


def test_a_side_that_emits_less_than_bare_is_called_out_beside_its_ratio() -> None:
    data = peers_report.merge(
        {"kaizen": _result("0.1.0", 1.4, 4, 5), "logfire": _result("5.4.0", 3.9, 9, 0)}, {}
    )
    text = "\n".join(peers_report.section(data))
    assert "**kaizen** (" in text and "the same spans and log records as bare" in text
    assert "9 spans and 0 log records per step where bare has 4 and 5" in text
