"""``make bench-check``: a short run of the gated benchmarks, compared with ``benchmarks/baseline.json``.

Each gated figure is a ratio measured in one run against its own baseline on the same machine (the
bare SDK doing the same work, or raw writes of the same line), as a median of alternating rounds,
so load on a shared machine moves it little. The check fails when a ratio is worse than the
baseline's by more than that figure's tolerance; the tolerances were set from repeated runs on the
2-core CI machine kind (see docs/performance.md). A failing figure is measured again, up to
:data:`ATTEMPTS` runs in all, and the best of each is kept: the machine's slow moments pass, a
regression does not. Updating the baseline is an explicit change:
``python -m benchmarks.check --update`` rewrites it, and the commit says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

try:
    from benchmarks import bench_agent_step, bench_audit_cpu
except ImportError:  # run as a script
    import bench_agent_step  # type: ignore[no-redef]
    import bench_audit_cpu  # type: ignore[no-redef]

BASELINE = Path(__file__).with_name("baseline.json")
#: Runs of the short benchmarks before a figure worse than allowed fails the check.
ATTEMPTS = 3


def measure() -> dict[str, float]:
    """The gated ratios, from a short run (about a minute on 2 cores)."""
    step = bench_agent_step.main(steps=200, rounds=15)
    audit = bench_audit_cpu.main(records=3000, rounds=9)
    return {
        "agent_step.kaizen_vs_bare": float(step["kaizen_vs_bare"]),
        "agent_step.noop_vs_bare": float(step["noop_before_configure_us"]) / float(step["bare_sdk_us"]),
        "audit.record_cpu_vs_raw": float(audit["record_vs_raw"]),
    }


def compare(measured: dict[str, float], baseline: dict[str, Any]) -> list[str]:
    """One line per gated figure; a line starting with FAIL when it is worse than allowed."""
    lines = []
    for name, entry in baseline["gates"].items():
        allowed = entry["value"] * (1 + entry["tolerance"])
        value = measured.get(name)
        if value is None:
            lines.append(f"FAIL {name}: not measured")
            continue
        verdict = "ok  " if value <= allowed else "FAIL"
        lines.append(
            f"{verdict} {name}: {value:.3f} (baseline {entry['value']:.3f}, allowed up to {allowed:.3f})"
        )
    return lines


def main(argv: list[str]) -> int:
    measured = measure()
    baseline = json.loads(BASELINE.read_text())
    if "--update" in argv:
        for name, value in measured.items():
            baseline["gates"].setdefault(name, {"tolerance": 0.15})["value"] = round(value, 4)
        BASELINE.write_text(json.dumps(baseline, indent=2) + "\n")
        print(f"baseline written to {BASELINE}")
        return 0
    lines = compare(measured, baseline)
    print("\n".join(["", "bench-check against benchmarks/baseline.json:", *lines]))
    for attempt in range(2, ATTEMPTS + 1):
        if not any(line.startswith("FAIL") for line in lines):
            break
        # A slow moment of the machine passes on the next attempt; a regression fails every one.
        again = measure()
        measured = {name: min(value, again.get(name, value)) for name, value in measured.items()}
        lines = compare(measured, baseline)
        print("\n".join(["", f"attempt {attempt} of {ATTEMPTS}, the best of each figure so far:", *lines]))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
