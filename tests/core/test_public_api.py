"""The public surface: what `import kaizen_otel` offers and what it must not do."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_has_no_side_effects() -> None:
    code = (
        "import os, threading, sys\n"
        "before = dict(os.environ); threads = threading.active_count()\n"
        "import kaizen_otel\n"
        "from opentelemetry import trace\n"
        "assert dict(os.environ) == before, 'environment changed'\n"
        "assert threading.active_count() == threads, 'thread started'\n"
        "assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider'\n"
        "assert 'opentelemetry.sdk.trace' not in sys.modules, 'SDK imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves() -> None:
    import kaizen_otel

    for name in kaizen_otel.__all__:
        assert getattr(kaizen_otel, name) is not None, name
