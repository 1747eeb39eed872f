"""The live view's routes on the one HTTP server: the page at ``/ui`` and the JSON API beneath it.

``/api/runs`` lists the kept runs with their roll-ups and the process totals; ``/api/runs/{id}``
is one run with its span tree (child runs included), attributes, span events and log records;
``/api/audit`` is the audit tail with the last verification; ``POST /api/audit/verify`` verifies
the trail now. The page polls ``/api/runs?since=<version>``, which answers ``{"unchanged": true}``
while nothing changed.

What the page may show: message content only when content capture is on (prompts, completions,
tool arguments and results are left out otherwise, whoever recorded them); redacted values as the
redaction marker, which the page marks as redacted. Requests whose ``Host`` is not this server's
loopback name are refused (a web page the developer visits cannot read the API through DNS
rebinding), and the one state-changing route needs a custom header (no cross-site form post).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opentelemetry.trace import SpanKind

from kaizen_otel.genai import conventions as cv
from kaizen_otel.genai import semconv as sc
from kaizen_otel.liveview.store import LiveStore, Run, SpanRecord

__all__ = ["CONTENT_KEYS", "LiveApp", "Reply", "is_loopback"]

#: (status, body, content type, extra headers)
Reply = tuple[int, bytes, str, Mapping[str, str]]

#: Attributes holding message content: the conventions' table of every producer's names, and the
#: older spec names.
CONTENT_KEYS = cv.CONTENT_ATTRIBUTES | {"gen_ai.prompt", "gen_ai.completion", "gen_ai.tool.definitions"}
_CONTENT_PREFIXES = (*cv.CONTENT_ATTRIBUTE_PREFIXES, "llm.completions")
NOT_CAPTURED = "(not captured: content capture is off)"
MAX_VALUE = 4000

_STATIC = {
    "/ui": ("index.html", "text/html; charset=utf-8"),
    "/ui/": ("index.html", "text/html; charset=utf-8"),
    "/ui/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/ui/style.css": ("style.css", "text/css; charset=utf-8"),
}
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
_JSON = "application/json"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})
VERIFY_HEADER = "X-Kaizen-Live"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; other names are not resolved (no DNS)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    if name.startswith("127.") and name.count(".") == 3:
        return all(part.isdigit() and int(part) < 256 for part in name.split("."))
    return name in ("0:0:0:0:0:0:0:1", "::ffff:127.0.0.1")


class LiveApp:
    """Answers the live view's routes; ``refusal`` set means every route answers 403 with it."""

    def __init__(
        self,
        store: LiveStore | None,
        *,
        service_name: str = "",
        bind_host: str = "localhost",
        refusal: str | None = None,
    ) -> None:
        self.store = store
        self.service_name = service_name
        self.refusal = refusal
        self._check_host = is_loopback(bind_host)
        self._static: dict[str, bytes] = {}

    @staticmethod
    def owns(path: str) -> bool:
        return path == "/" or path == "/ui" or path.startswith(("/ui/", "/api/"))

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply | None:
        """The reply for a request to one of the live view's routes, or None when not one of them."""
        parts = urlsplit(target)
        path = parts.path
        if not self.owns(path):
            return None
        if self.refusal is not None:
            return _text(403, self.refusal)
        if self._check_host and not is_loopback(_host_name(headers.get("Host", ""))):
            return _text(403, "the live view answers only requests addressed to a loopback host name")
        if path == "/":
            return 302, b"", "text/plain", {"Location": "/ui/"}
        if method == "POST":
            if path != "/api/audit/verify":
                return _text(405, "method not allowed")
            if headers.get(VERIFY_HEADER) != "1":
                return _text(403, f"verifying needs the header {VERIFY_HEADER}: 1")
            return self._json(self._verify())
        if path in _STATIC:
            return self._asset(*_STATIC[path])
        query = parse_qs(parts.query)
        if path == "/api/runs":
            return self._json(self.runs(_int(query, "since")))
        if path.startswith("/api/runs/"):
            detail = self.run(path[len("/api/runs/") :])
            return (
                self._json(detail)
                if detail is not None
                else _text(404, "no such run (it may have been dropped)")
            )
        if path == "/api/audit":
            return self._json(self.audit())
        return _text(404, "not found: try /ui, /api/runs, /api/runs/{id} or /api/audit")

    # ------------------------------------------------------------------------------ documents
    def runs(self, since: int | None = None) -> dict[str, Any]:
        store = self.store
        assert store is not None
        version = store.version
        if since is not None and since == version:
            return {"version": version, "unchanged": True}
        runs, spend = store.snapshot()
        now = time.time_ns()
        return {
            "version": version,
            "service": self.service_name,
            "now": now / 1e6,
            "totals": store.totals(),
            "budgets": store.budgets,
            "spend": [[round(t * 1e3), usd] for t, usd in spend],
            "store": {
                "runs": len(runs),
                "max_runs": store.max_runs,
                "bytes": store.bytes,
                "max_bytes": store.max_bytes,
                "evicted_runs": store.evicted_runs,
            },
            "capture_content": store.capture_content,
            "runs": [_summary(run, now) for run in _grouped(runs)],
        }

    def run(self, run_id: str) -> dict[str, Any] | None:
        store = self.store
        assert store is not None
        run = store.get(run_id)
        if run is None:
            return None
        spans, events, open_runs = store.spans_of(run)
        now = time.time_ns()
        origin = run.start_ns
        nodes = [_span(span, origin, store.capture_content) for span in spans]
        nodes += [_open_span(member, origin, now) for member in open_runs]
        _log_events = [
            _event(event, origin, store.capture_content)
            for event in sorted(events, key=lambda event: event[0] or 0)
        ]
        return {
            "version": store.version,
            "run": _summary(run, now),
            "spans": _tree(nodes, run.id),
            "logs": _log_events,
        }

    def audit(self) -> dict[str, Any]:
        store = self.store
        assert store is not None
        return {"enabled": store.audit_enabled, "records": store.audit_tail(), "verify": store.last_verify}

    def _verify(self) -> dict[str, Any]:
        store = self.store
        assert store is not None
        return {"enabled": store.audit_enabled, "verify": store.verify_audit()}

    # ------------------------------------------------------------------------------ replies
    def _json(self, document: Any) -> Reply:
        body = json.dumps(document, default=str, separators=(",", ":"), allow_nan=False).encode()
        return 200, body, _JSON, _SECURITY_HEADERS

    def _asset(self, name: str, content_type: str) -> Reply:
        body = self._static.get(name)
        if body is None:
            from importlib import resources

            body = resources.files("kaizen_otel.liveview").joinpath("static").joinpath(name).read_bytes()
            self._static[name] = body
        return 200, body, content_type, _SECURITY_HEADERS


def _text(status: int, message: str) -> Reply:
    return status, (message + "\n").encode(), "text/plain; charset=utf-8", _SECURITY_HEADERS


def _host_name(host: str) -> str:
    """The name in a ``Host`` header (``name``, ``name:port``, ``[v6]``, ``[v6]:port``); anything
    else is returned whole, which is not a loopback name."""
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1 :] if end > 0 else None
        if rest is not None and (not rest or (rest[0] == ":" and rest[1:].isdigit())):
            return host[1:end]
        return host
    name, colon, port = host.partition(":")
    return name if not colon or port.isdigit() else host


def _int(query: Mapping[str, list[str]], name: str) -> int | None:
    try:
        return int(query[name][0])
    except (KeyError, IndexError, ValueError):
        return None


def _grouped(runs: list[Run]) -> list[Run]:
    """Newest top-level run first, each followed by the runs under it in the order they started."""
    kept = {id(run) for run in runs}
    ordered: list[Run] = []
    for run in reversed(runs):
        if run.parent is None or id(run.parent) not in kept:
            ordered.extend(member for member in run.subtree() if id(member) in kept)
    return ordered


def _rollup(run: Run) -> dict[str, Any]:
    """Roll-ups of a run and every run under it."""
    total = {
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "llm_calls": 0,
        "llm_errors": 0,
        "tool_calls": 0,
        "tool_errors": 0,
        "spans": 0,
        "budget_crossings": 0,
        "refused": 0,
        "dropped_spans": 0,
    }
    for member in run.subtree():
        total["input_tokens"] += member.input_tokens
        total["output_tokens"] += member.output_tokens
        total["cost_usd"] += member.cost
        total["llm_calls"] += member.llm_calls
        total["llm_errors"] += member.llm_errors
        total["tool_calls"] += member.tool_calls
        total["tool_errors"] += member.tool_errors
        total["spans"] += member.span_count
        total["budget_crossings"] += len(member.budget)
        total["refused"] += member.refused
        total["dropped_spans"] += member.dropped_spans
    return total


def _depth(run: Run) -> int:
    depth, parent = 0, run.parent
    while parent is not None and depth < 16:
        depth, parent = depth + 1, parent.parent
    return depth


def _summary(run: Run, now_ns: int) -> dict[str, Any]:
    end = run.end_ns if run.end_ns is not None else now_ns
    return {
        "id": run.id,
        "trace_id": format(run.trace_id, "032x"),
        "parent": run.parent.id if run.parent is not None else None,
        "name": run.name,
        "agent": run.agent,
        "agent_id": run.agent_id,
        "operation": run.operation,
        "status": run.status,
        "error": run.error,
        "start": run.start_ns / 1e6,
        "duration_ms": max(end - run.start_ns, 0) / 1e6,
        "children": len(run.children),
        "depth": _depth(run),
        "budget": list(run.budget),
        **_rollup(run),
    }


def _shown(key: str, value: Any, capture: bool) -> Any:
    if not capture and (key in CONTENT_KEYS or key.startswith(_CONTENT_PREFIXES)):
        return NOT_CAPTURED
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[:MAX_VALUE] + f"… ({len(value)} characters)"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _attributes(attrs: Any, capture: bool) -> dict[str, Any]:
    return {key: _shown(key, value, capture) for key, value in (attrs or {}).items()}


_KINDS = {kind.value: kind.name for kind in SpanKind}


def _span(record: SpanRecord, origin_ns: int, capture: bool) -> dict[str, Any]:
    span_id, parent_id, name, kind, start, end, failed, description, attrs, events = record
    start = start or origin_ns
    end = end or start
    return {
        "id": format(span_id, "016x"),
        "parent": format(parent_id, "016x") if parent_id else None,
        "name": name,
        "operation": cv.operation(attrs),
        "kind": _KINDS.get(kind, str(kind)),
        "start_ms": (start - origin_ns) / 1e6,
        "duration_ms": (end - start) / 1e6,
        "status": "error" if failed else "ok",
        "error": (str(attrs.get(sc.ERROR_TYPE) or description or "error")) if failed else None,
        "running": False,
        "attributes": _attributes(attrs, capture),
        "events": [
            {
                "name": event_name,
                "offset_ms": (timestamp - origin_ns) / 1e6,
                "attributes": _attributes(event_attrs, capture),
            }
            for event_name, timestamp, event_attrs in events
        ],
    }


def _open_span(run: Run, origin_ns: int, now_ns: int) -> dict[str, Any]:
    """A run still in progress: its root span has not ended, so only what started it is known."""
    parent = run.parent
    return {
        "id": run.id,
        "parent": parent.id if parent is not None else None,
        "name": run.name,
        "operation": run.operation,
        "kind": "INTERNAL",
        "start_ms": (run.start_ns - origin_ns) / 1e6,
        "duration_ms": (now_ns - run.start_ns) / 1e6,
        "status": "running",
        "error": None,
        "running": True,
        "attributes": {sc.GEN_AI_OPERATION_NAME: run.operation, sc.GEN_AI_AGENT_NAME: run.agent},
        "events": [],
    }


def _event(event: tuple[Any, ...], origin_ns: int, capture: bool) -> dict[str, Any]:
    timestamp, severity, name, body, attrs, span_id = event
    if body is not None and name and name.startswith("gen_ai.") and not capture:
        body = NOT_CAPTURED  # GenAI content events carry prompts and completions
    text = None if body is None else (body if isinstance(body, str) else json.dumps(body, default=str))
    return {
        "offset_ms": ((timestamp or origin_ns) - origin_ns) / 1e6,
        "severity": severity if severity is None or isinstance(severity, str) else severity.name,
        "event_name": name,
        "body": text if text is None or len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…",
        "span": format(span_id, "016x") if span_id else None,
        "attributes": _attributes(attrs, capture),
    }


def _tree(nodes: list[dict[str, Any]], root_id: str) -> list[dict[str, Any]]:
    """Spans in depth-first order with their depth; the run's root first, siblings by start."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {node["id"] for node in nodes}
    for node in nodes:
        parent = node["parent"] if node["parent"] in ids and node["id"] != root_id else None
        by_parent.setdefault(parent, []).append(node)
    for children in by_parent.values():
        children.sort(key=lambda node: (node["id"] != root_id, node["start_ms"]))
    ordered: list[dict[str, Any]] = []
    stack = [(node, 0) for node in reversed(by_parent.get(None, []))]
    while stack:
        node, depth = stack.pop()
        node["depth"] = depth
        ordered.append(node)
        stack.extend((child, depth + 1) for child in reversed(by_parent.get(node["id"], [])))
    return ordered
