"""``promtool check metrics`` on an exposition: parse errors, and lint problems of our families."""

from __future__ import annotations

import shutil
import subprocess

from tests.testbed.fixtures import require

OURS = ("kaizen_", "gen_ai_", "target_info")


def promtool_problems(exposition: bytes) -> list[str]:
    """What promtool rejects: a parse error (exit 1), or lint lines about our own families.

    Lint lines about other families (a library's process collector, say) are the business of
    whoever names them, and are left out.
    """
    require(shutil.which("promtool") is not None, "Debian package `prometheus` (promtool)")
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60, check=False
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    if done.returncode == 0:
        return []
    if done.returncode != 3:  # 3: lint problems only; anything else: it did not parse
        return [output.strip()]
    return [line for line in output.splitlines() if line.startswith(OURS)]
