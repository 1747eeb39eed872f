"""The "Peers" section of docs/performance.md, from ``benchmarks/results/peers.json``.

``make bench-peers`` writes the results file and replaces the section in the page; ``make bench``
(``benchmarks/report.py``) includes the section whenever the file exists, so a full rewrite of the
page keeps the last peer comparison without needing the peers installed.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from benchmarks.peers import MAPPING

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "peers.json"
PAGE = ROOT / "docs" / "performance.md"
HEADING = "## Peers"


def merge(results: dict[str, dict[str, Any]], previous: dict[str, Any]) -> dict[str, Any]:
    """This run's sides over the last file's; each side keeps its last ratio to show the spread."""
    today = _dt.date.today().isoformat()
    sides = dict(previous.get("sides", {}))
    for side, result in results.items():
        before = sides.get(side)
        if before and before.get("version") == result["version"]:
            result["previous_vs_bare"] = before["vs_bare"]
            result["previous_date"] = before["date"]
        sides[side] = {**result, "date": today}
    from benchmarks.report import _machine  # imported here: that module includes this section

    ordered = dict(sorted(sides.items(), key=lambda item: item[0] != "kaizen"))
    return {"machine": _machine(), "sides": ordered}


def section(data: dict[str, Any]) -> list[str]:
    sides: dict[str, dict[str, Any]] = data.get("sides", {})
    if not sides:
        return []
    any_side = next(iter(sides.values()))
    bare = any_side["emitted_per_step"]["bare"]
    lines = [
        f"{HEADING} (`make bench-peers`)",
        "",
        "The agent step of `bench_agent_step.py` written with each peer SDK's own API (`benchmarks/peers/`),",
        "each peer in a virtualenv of its own at the pinned version. Each side is measured against the",
        "same bare step in a process of its own (every SDK installs global providers): process CPU, the",
        f"median of the per-round ratios of {any_side['rounds']} alternating rounds of "
        f"{any_side['steps']} steps, each round's export",
        "flushed inside it. kaizen_otel runs through the same harness, so the ratios compare; the µs do",
        "not (each process ran at its own moment of a shared machine). Every exporter is a counting drop",
        "at the SDK's exporter seam, and each process refuses connections other than loopback and lists",
        "any it saw. The previous-run column holds the ratio of the run before, to show the spread.",
        "",
        f"- machine: {data.get('machine', 'unknown')}; Python {any_side['python']}",
        "",
        "| side | version (OpenTelemetry SDK) | vs bare: median (middle half) | previous run "
        "| µs per step: side, bare | emitted per step: spans, log records; metric series | network |",
        "|---|---|---|---|---|---|---|",
    ]
    for side, r in sides.items():
        low, high = r["vs_bare_iqr"]
        out = r["emitted_per_step"]["side"]
        previous = (
            f"{r['previous_vs_bare']:.2f}x ({r['previous_date']})"
            if r.get("previous_vs_bare") is not None
            else "-"
        )
        lines.append(
            f"| {side} | {r['version']} ({r['opentelemetry_sdk']}) | **{r['vs_bare']:.2f}x** "
            f"({low:.2f}-{high:.2f}) | {previous} | {r['side_us']:.0f}, {r['bare_us']:.0f} "
            f"| {out['spans']:.0f}, {out['logs']:.0f}; {out['metric_series']} "
            f"| {', '.join(r['network_attempts']) or 'none'} |"
        )
    lines += [
        "",
        f"The bare step emits {bare['spans']:.0f} spans and {bare['logs']:.0f} log records per step and "
        f"leaves {bare['metric_series']} metric series.",
        "A side that emits less did less work; it is not faster for that:",
        "",
    ]
    for side, r in sides.items():
        out = r["emitted_per_step"]["side"]
        if (out["spans"], out["logs"]) == (bare["spans"], bare["logs"]):
            verdict = "the same spans and log records as bare"
        else:
            verdict = (
                f"{out['spans']:.0f} spans and {out['logs']:.0f} log records per step where bare has "
                f"{bare['spans']:.0f} and {bare['logs']:.0f}"
            )
        series = out["metric_series"] - bare["metric_series"]
        extra = f", {series:+d} metric series" if series else ""
        lines.append(f"- **{side}** ({r['date']}): {verdict}{extra}. {MAPPING.get(side, '')}")
    lines.append("")
    return lines


def section_from_file() -> list[str]:
    """The section from the last ``make bench-peers``, or nothing when it never ran."""
    if not RESULTS.exists():
        return []
    return section(json.loads(RESULTS.read_text()))


def splice(page: str, lines: list[str]) -> str:
    """``page`` with its Peers section replaced by ``lines`` (added at the end when absent)."""
    start = page.find(f"\n{HEADING}")
    if start < 0:
        return page.rstrip("\n") + "\n\n" + "\n".join(lines)
    end = page.find("\n## ", start + 1)
    rest = page[end:] if end >= 0 else ""
    return page[: start + 1] + "\n".join(lines) + rest


def write(results: dict[str, dict[str, Any]]) -> Path:
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data = merge(results, previous)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    PAGE.write_text(splice(PAGE.read_text(), section(data)))
    return PAGE
