"""``kaizen-otel doctor``: why an instrumentation records nothing, and whether /metrics is sound.

``opentelemetry-instrument`` skips an instrumentation whose library is missing, and logs at DEBUG
only when the instrumentation itself cannot load (openai-v2 without ``httpx``, or with an
incompatible ``opentelemetry-util-genai``): the application runs, its model calls are simply not
traced. The doctor shows, for every installed instrumentation, whether it would load and why not;
the versions that matter; which distro and configurator ``opentelemetry-instrument`` would pick;
the effective exporters; and a self-check of ``/metrics`` (one HELP/TYPE block per family, the
GenAI families present, ``promtool check metrics`` when promtool is installed).

:func:`warn_failed_instrumentation` is what our distro calls when an instrumentation fails under
``opentelemetry-instrument``: one WARNING per instrumentation, naming the cause.
"""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

__all__ = ["agents_sdk_tracing_notes", "check_exposition", "register", "warn_failed_instrumentation"]

_log = logging.getLogger("kaizen_otel.distro")
_warned: set[str] = set()
_warned_lock = threading.Lock()

#: Packages whose versions explain most GenAI instrumentation problems.
VERSIONS = (
    "kaizen-otel",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation",
    "opentelemetry-semantic-conventions",
    "opentelemetry-util-genai",
    "openai",
    "httpx",
    "anthropic",
)


def warn_failed_instrumentation(name: str, exc: BaseException) -> None:
    """Log once, at WARNING, that instrumentation ``name`` failed to load and why."""
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    _log.warning(
        "kaizen_otel: instrumentation %r failed to load (%s: %s); its library's calls are not "
        "traced. `kaizen-otel doctor` shows every instrumentation and why it does or does not load",
        name,
        type(exc).__name__,
        exc,
    )


# --- what is installed -------------------------------------------------------------------------
def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=group))


def instrumentations() -> list[tuple[str, str, str]]:
    """(entry point, distribution and version, verdict) of every installed instrumentation."""
    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

    rows = []
    for entry_point in _entry_points("opentelemetry_instrumentor"):
        dist = entry_point.dist
        package = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"
        rows.append((entry_point.name, package, _verdict(entry_point, get_dist_dependency_conflicts)))
    return rows


def _verdict(entry_point: metadata.EntryPoint, conflicts: Any) -> str:
    try:
        conflict = conflicts(entry_point.dist) if entry_point.dist is not None else None
    except Exception as exc:
        return f"unknown: {exc!r}"
    if conflict is not None:
        found = getattr(conflict, "found", None) or getattr(conflict, "found_any", None)
        return f"skipped: {conflict}" if not found else f"FAILS (version conflict): {conflict}"
    try:
        entry_point.load()
    except Exception as exc:  # what opentelemetry-instrument hides at DEBUG
        return f"FAILS: {type(exc).__name__}: {exc}"
    return "loads"


def _selected(group: str, variable: str) -> str:
    from kaizen_otel._internal.settings import instrument_selection

    names = [ep.name for ep in _entry_points(group)]
    chosen = instrument_selection()[variable]
    if chosen:
        state = "" if chosen in names else " (NOT INSTALLED)"
        return f"{chosen}{state}, named by {variable}; installed: {', '.join(names) or 'none'}"
    if not names:
        return "none installed"
    others = f"; also installed: {', '.join(names[1:])} (pin one with {variable})" if names[1:] else ""
    return f"{names[0]} (first found){others}"


# --- the OpenAI Agents SDK's own tracing ------------------------------------------------------
def agents_sdk_tracing_notes(environ: Mapping[str, str] | None = None) -> list[str]:
    """What the OpenAI Agents SDK's own tracing does beside its OTel instrumentation.

    Two traps (docs/integrations.md, "Keeping the Agents SDK's traces local"): with a key, the SDK
    also posts every run, prompts included, to OpenAI's platform; and its off switch
    ``OPENAI_AGENTS_DISABLE_TRACING`` silences every instrumentation of the SDK with it, since they
    are processors of its tracing. The doctor sees the variables, not what the application does in
    code (``set_trace_processors``): hence notes and warnings, not failures.
    """
    from kaizen_otel._internal.settings import agents_sdk_tracing

    if _version("openai-agents") is None:
        return []
    has_key, disabled = agents_sdk_tracing(environ)
    if disabled is not None and disabled.strip().lower() in ("true", "1"):
        return [
            f"  warning: OPENAI_AGENTS_DISABLE_TRACING={disabled} turns the Agents SDK's tracing off, and "
            "its OTel instrumentation with it: no agent runs, per-agent cost, budgets or heartbeats "
            "from it. To keep its traces local instead, call agents.set_trace_processors([]) before "
            "instrumenting"
        ]
    if has_key:
        return [
            "  note: OPENAI_API_KEY is set: the Agents SDK also posts every run, prompts included, to "
            "OpenAI's platform, unless the application calls agents.set_trace_processors([]) before "
            "instrumenting"
        ]
    return ["  no OPENAI_API_KEY: the Agents SDK exports nothing to OpenAI unless a key is set in code"]


# --- /metrics ----------------------------------------------------------------------------------
def check_exposition(text: str) -> list[str]:
    """Problems of a Prometheus text page: a family with two HELP/TYPE blocks, missing GenAI families."""
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            kind, name = line[2:6], line.split(" ", 3)[2]
            seen[(kind, name)] = seen.get((kind, name), 0) + 1
    problems += [f"{count} {kind} lines for {name}" for (kind, name), count in seen.items() if count > 1]
    problems += [
        f"a second family {name}: another unit than gen_ai_client_token_usage"
        for (kind, name) in seen
        if kind == "TYPE" and name.startswith("gen_ai_client_token_usage_") and name.count("_") > 4
    ]
    return problems


def _promtool(text: str) -> str | None:
    if shutil.which("promtool") is None:
        return None
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "error" in line.lower()]
    return "; ".join(errors) if errors or done.returncode not in (0, 3) else ""


def _self_check() -> str:
    """Configure in this process with a free port, record one GenAI span, scrape /metrics."""
    from opentelemetry import trace

    import kaizen_otel

    obs = kaizen_otel.configure(
        service_name="kaizen-otel-doctor",
        prometheus_host="127.0.0.1",
        prometheus_port=0,
        traces_exporter="none",
        logs_exporter="none",
        metrics_exporter="prometheus",
        enable_audit=False,
        process_metrics=False,
        live_view=False,
    )
    try:
        with trace.get_tracer("kaizen_otel.doctor").start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 5,
            },
        ):
            pass
        url = obs.metrics_url
        if url is None:
            return "no /metrics endpoint (Prometheus switched off)"
        return _fetch(url)
    finally:
        obs.shutdown()


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _metrics_report(url: str | None) -> tuple[list[str], bool]:
    try:
        text = _fetch(url) if url else _self_check()
    except Exception as exc:
        return [f"  could not read {url or 'the self-check page'}: {exc!r}"], False
    where = url or "a configure() in this process with one GenAI span"
    lines = [f"  page: {where}"]
    problems = check_exposition(text)
    if not url:
        problems += [
            f"missing family {family}"
            for family in ("gen_ai_client_token_usage", "kaizen_cost_usd_total")
            if f"# TYPE {family} " not in text and f"# TYPE {family.removesuffix('_total')} " not in text
        ]
    verdict = _promtool(text)
    if verdict is None:
        lines.append("  promtool: not installed (Debian package `prometheus`)")
    elif verdict:
        problems.append(f"promtool check metrics: {verdict}")
    else:
        lines.append("  promtool check metrics: ok")
    lines += [f"  PROBLEM: {p}" for p in problems] or ["  one HELP/TYPE block per family: ok"]
    return lines, not problems


# --- the report --------------------------------------------------------------------------------
def _section(title: str, rows: Iterable[str]) -> list[str]:
    return [title, *rows, ""]


def report(metrics_url: str | None = None) -> tuple[str, bool]:
    """The doctor's text and whether everything is healthy."""
    from kaizen_otel._internal.settings import render_value, resolve

    healthy = True
    lines = _section(
        "Versions",
        [f"  python {platform.python_version()}"]
        + [f"  {name} {_version(name) or '-'}" for name in VERSIONS],
    )
    lines += _section(
        "opentelemetry-instrument would use",
        [
            f"  distro: {_selected('opentelemetry_distro', 'OTEL_PYTHON_DISTRO')}",
            f"  configurator: {_selected('opentelemetry_configurator', 'OTEL_PYTHON_CONFIGURATOR')}",
        ],
    )
    rows = instrumentations()
    healthy = healthy and not any(verdict.startswith("FAILS") for _, _, verdict in rows)
    lines += _section(
        "Instrumentations (entry point, package, verdict)",
        [f"  {name:<24} {package:<52} {verdict}" for name, package, verdict in rows] or ["  none installed"],
    )
    notes = agents_sdk_tracing_notes()
    if notes:
        lines += _section("OpenAI Agents SDK's own tracing (docs/integrations.md)", notes)
    resolved = resolve(strict=False)
    settings = resolved.settings
    exporters = [
        f"  {name}: {render_value(name, getattr(settings, name)) or 'none'} ({resolved.sources[name]})"
        for name in ("traces_exporter", "metrics_exporter", "logs_exporter", "otlp_endpoint")
    ]
    exporters.append(f"  prometheus: {settings.prometheus_host}:{settings.prometheus_port}")
    exporters += [f"  warning: {problem}" for problem in resolved.problems]
    lines += _section("Effective exporters", exporters)
    metrics_lines, metrics_ok = _metrics_report(metrics_url)
    lines += _section("/metrics", metrics_lines)
    healthy = healthy and metrics_ok
    lines.append("healthy" if healthy else "problems found (see FAILS / PROBLEM above)")
    return "\n".join(lines) + "\n", healthy


def _doctor(args: argparse.Namespace) -> int:
    text, healthy = report(args.metrics_url)
    print(text, end="")
    return 0 if healthy else 1


def register(sub: Any) -> None:
    """Add ``doctor`` to the ``kaizen-otel`` subcommands."""
    doctor = sub.add_parser(
        "doctor",
        help="instrumentations installed, loading or failing and why; versions; exporters; /metrics check",
        description=(__doc__ or "").splitlines()[0],
    )
    doctor.add_argument(
        "--metrics-url",
        help="lint this /metrics page (a running application's) instead of a self-check in this process",
    )
    doctor.set_defaults(func=_doctor)
