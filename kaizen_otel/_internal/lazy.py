"""Module attributes imported on first use (PEP 562), for packages that must import light.

``import kaizen_otel`` must not pull in the SDK, and ``configure()`` must not pull in the agent
helpers it does not wire; both packages name their public attributes in a table instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_attributes(
    package: str, table: Mapping[str, str], namespace: dict[str, Any], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name in ``table`` is imported from its
    module on first access, then kept in ``namespace`` so later accesses are plain lookups."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
