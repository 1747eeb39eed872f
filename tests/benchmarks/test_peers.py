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
