"""``make bench-peers``: the agent step with kaizen_otel and each peer SDK, each against the bare step.

python -m benchmarks.peers                    # every side, then results/peers.json and the docs
python -m benchmarks.peers logfire openlit    # some sides only (the results file keeps the others)
python -m benchmarks.peers --rounds 11        # a quicker, noisier run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._util import table
from benchmarks.peers import PEERS
from benchmarks.peers.report import RESULTS, write

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".venv-peers"
SIDES = ("kaizen", *PEERS)
STEPS = 400
ROUNDS = 41


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venvs(peers: list[str]) -> None:
    """Create or refresh ``.venv-peers/<peer>`` where its pinned requirement changed (in parallel).

    pip is upgraded first: the one ``venv`` bundles cannot resolve openlit's and traceloop's
    OpenTelemetry pre-release pins.
    """
    running = []
    for peer in peers:
        venv, wanted = VENVS / peer, " ".join(PEERS[peer])
        stamp = venv / ".pinned"
        if stamp.exists() and stamp.read_text() == wanted and _python(venv).exists():
            continue
        print(f"creating {venv.relative_to(ROOT)} with {wanted}", flush=True)
        command = (
            f"{sys.executable} -m venv --clear {venv} && "
            f"{_python(venv)} -m pip install -q --disable-pip-version-check --upgrade pip && "
            f"{_python(venv)} -m pip install -q --disable-pip-version-check {wanted} && "
            f"printf %s '{wanted}' > {stamp}"
        )
        running.append((peer, subprocess.Popen(command, shell=True, stderr=subprocess.PIPE, text=True)))
    failed = []
    for peer, process in running:
        _, err = process.communicate()
        if process.returncode != 0:
            failed.append(f"{peer}: {err[-1500:]}")
    if failed:
        raise SystemExit("could not install a peer:\n" + "\n".join(failed))


def child_env() -> dict[str, str]:
    """The environment of a measuring process: no settings of ours or of any SDK leak in."""
    prefixes = ("KAIZEN_OTEL_", "OTEL_", "LOGFIRE_", "TRACELOOP_", "OPENLIT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT)
    env["TRACELOOP_TELEMETRY"] = "false"  # older traceloop-sdk versions report usage to a third party
    env["TRACELOOP_LOGGING_ENABLED"] = "true"  # traceloop's switch for exporting log records at all
    return env


def run_side(side: str, steps: int, rounds: int) -> dict[str, Any]:
    python = Path(sys.executable) if side == "kaizen" else _python(VENVS / side)
    done = subprocess.run(
        [str(python), "-m", "benchmarks.peers.child", side, str(steps), str(rounds)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(ROOT),
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {side} measuring process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summary(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for side, r in results.items():
        low, high = r["vs_bare_iqr"]
        emitted = r["emitted_per_step"]["side"]
        rows.append(
            [
                f"{side} {r['version']}",
                r["opentelemetry_sdk"],
                f"{r['vs_bare']:.3f} ({low:.3f}-{high:.3f})",
                f"{r['side_us']:.0f} vs {r['bare_us']:.0f}",
                f"{emitted['spans']:.0f} / {emitted['logs']:.0f} / {emitted['metric_series']}",
                ", ".join(r["network_attempts"]) or "none",
            ]
        )
    bare = next(iter(results.values()))["emitted_per_step"]["bare"]
    return "\n".join(
        [
            table(
                [
                    "side",
                    "OTel SDK",
                    "vs bare (middle half)",
                    "µs/step side vs bare",
                    "spans / logs / series",
                    "network",
                ],
                rows,
            ),
            f"bare emitted per step: {bare['spans']:.0f} spans, {bare['logs']:.0f} log records, "
            f"{bare['metric_series']} metric series at the end. A side that emits less did less work.",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers")
    parser.add_argument("sides", nargs="*", help=f"any of {', '.join(SIDES)} (default: all)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    sides = args.sides or list(SIDES)
    unknown = sorted(set(sides) - set(SIDES))
    if unknown:
        parser.error(f"unknown side {', '.join(unknown)}; allowed: {', '.join(SIDES)}")
    ensure_venvs([s for s in sides if s in PEERS])
    results = {}
    for side in sides:
        print(f"measuring {side} ({args.rounds} rounds of {args.steps} steps)", flush=True)
        results[side] = run_side(side, args.steps, args.rounds)
    print(summary(results))
    page = write(results)
    print(f"{RESULTS.relative_to(ROOT)} and {page.relative_to(ROOT)} written from this run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
