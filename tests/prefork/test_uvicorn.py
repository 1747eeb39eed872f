"""``uvicorn --workers 3`` behind one ``/metrics``, as docs/operations.md promises.

uvicorn's workers are spawned, not forked: each imports the application afresh, so each runs its
own ``configure()`` (or the configurator, under ``opentelemetry-instrument``) and binds the metrics
port itself. Real uvicorn (dev extra), real worker processes, real ``kill -9``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prefork.servers import PreforkServer, poll

pytestmark = pytest.mark.integration

SETUPS = {
    "configure() in each worker": {"instrument": False},
    "opentelemetry-instrument uvicorn": {"instrument": True},
}


@pytest.fixture(params=list(SETUPS))
def uvicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PreforkServer]:
    server = PreforkServer(tmp_path, server="uvicorn", env={}, **SETUPS[request.param])
    try:
        yield server
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


def _requests_until_several_workers_answered(server: PreforkServer) -> set[int]:
    """Batches of 30 requests until two workers have answered (spawned workers start one by one)."""
    seen: set[int] = set()

    def several() -> set[int] | None:
        seen.update(server.requests(30))
        return seen if len(seen) >= 2 else None

    return poll(several, "requests answered by two workers")


def test_one_metrics_port_sums_the_workers_and_a_killed_one_leaves_no_counter_going_down(
    uvicorn: PreforkServer,
) -> None:
    pids = _requests_until_several_workers_answered(uvicorn)
    before = uvicorn.sent
    assert uvicorn.counted(before)["shop_latency_seconds_count"] == before  # the sum over the workers
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    after_kill = poll(uvicorn.scrape, "a scrape after the kill")
    assert after_kill["shop_requests_total"] == before  # the dead worker's counts stay
    replaced = poll(lambda: (uvicorn.requests(12) - pids) or None, "a restarted worker to answer")
    assert victim not in replaced
    after = uvicorn.counted(uvicorn.sent)
    assert after["shop_latency_seconds_count"] == uvicorn.sent > before
