"""Reliability tests: real processes and servers on 127.0.0.1, every test marked ``integration``.

The one-million-step run is also marked ``slow`` and is left out unless ``-m slow`` asks for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testbed.fixtures import prometheus, rotel

__all__ = ["prometheus", "rotel"]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
