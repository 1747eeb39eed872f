"""Pre-fork servers for real: gunicorn workers, one /metrics; the rotel OTLP receiver for instance ids."""

from __future__ import annotations

from tests.testbed.fixtures import rotel

__all__ = ["rotel"]
