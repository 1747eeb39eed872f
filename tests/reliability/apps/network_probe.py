"""Import kaizen_otel and configure() it with an audit hook recording every socket operation.

``python -m tests.reliability.apps.network_probe`` prints one JSON line: the socket events seen
(``socket.connect``, ``socket.bind``, ``socket.getaddrinfo``, ``socket.gethostbyname`` ...) after
the hook was installed, during ``import kaizen_otel`` and ``configure()`` with the environment's
settings. The hook is installed before anything else is imported.
"""

from __future__ import annotations

import sys

events: list[list[str]] = []


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event.startswith("socket.") and event not in ("socket.__new__", "socket.sethostname"):
        events.append([event, repr(args[1:] if event in ("socket.connect", "socket.bind") else args)])


sys.addaudithook(_hook)

import json  # noqa: E402

import kaizen_otel  # noqa: E402

after_import = len(events)
obs = kaizen_otel.configure()
print(json.dumps({"at_import": events[:after_import], "at_configure": events[after_import:]}), flush=True)
obs.shutdown()
