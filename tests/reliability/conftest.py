"""Reliability tests: real processes and servers on 127.0.0.1, every test marked ``integration``.

The one-million-step run is also marked ``slow`` and is left out unless ``-m slow`` asks for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testbed.fixtures import prometheus, rotel

__all__ = ["prometheus", "rotel"]

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: minutes long (the one-million-step run); run with -m slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here ``integration``; leave ``slow`` tests out unless ``-m`` names them."""
    wants_slow = "slow" in (config.getoption("-m") or "")
    kept, left_out = [], []
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("slow") and not wants_slow:
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
