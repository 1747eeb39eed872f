"""Long runs: memory stays bounded and no thread is added, with fixed names and unbounded ones.

Each variant runs in a fresh interpreter (``apps/long_run.py``) with ``configure()``'s defaults.
RSS is read after a warm-up of 10 % of the steps (caches filled, the cardinality limit reached)
and at the end; the growth in between is what a longer run would keep adding. The fast suite
runs 50,000 steps; the one-million-step run is marked ``slow`` and left out unless ``-m slow``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.reliability.apps.runner import app_environment, run_app

#: RSS growth allowed between the warm-up and the end: allocator slack, not a per-step leak.
GROWTH_LIMIT_KB = {"fixed": 8 * 1024, "unbounded": 40 * 1024}


def _run(steps: int, variant: str) -> dict[str, Any]:
    run = run_app("tests.reliability.apps.long_run", str(steps), variant, env=app_environment(), timeout=3600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.phase("done")


def _check(result: dict[str, Any]) -> None:
    variant = result["variant"]
    # Every span reached the sink or was counted as dropped (a full batch queue drops, by design).
    assert result["spans"] + result["dropped_spans"] == 3 * result["steps"]
    assert result["end_threads"] == result["warm_threads"], result
    growth = result["end_rss_kb"] - result["warm_rss_kb"]
    assert growth < GROWTH_LIMIT_KB[variant], result


def test_fifty_thousand_steps_keep_memory_and_threads_bounded() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda variant: _run(50_000, variant), ["fixed", "unbounded"]))
    for result in results:
        _check(result)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["fixed", "unbounded"])
def test_a_million_steps_keep_memory_and_threads_bounded(variant: str) -> None:
    _check(_run(1_000_000, variant))
