"""Run every benchmark module (`bench_*.py`) in this folder, or the ones named on the command line.

python -m benchmarks                 # all, then docs/performance.md is rewritten from the run
python -m benchmarks startup scrape  # bench_startup.py and bench_scrape.py
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv or n in argv]
    results: dict[str, object] = {}
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            results[name] = module.main()
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            failed.append(name)
            print(f"{name} failed: {exc!r}", flush=True)
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    out = here.parent / ".bench" / "results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults written to {out}")
    if not argv and not failed:
        from benchmarks.report import write

        print(f"{write(results)} rewritten from this run")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
