"""The demo agent runs end to end with the embedded defaults and reports what it did."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_demo_runs_crosses_its_budget_and_verifies_its_audit_trail(tmp_path):
    audit = tmp_path / "audit.jsonl"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kaizen_otel.demo",
            "--iterations",
            "8",
            "--agents",
            "3",
            "--port",
            "0",
            "--hold",
            "0",
            "--audit-path",
            str(audit),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "researcher: stopped by budget" in text
    assert "1 crossed" in text
    assert "verified" in text and "NOT verified" not in text
    assert "2 seals," in text  # the open seal after genesis, and the close seal at shutdown
    assert "http://localhost:" in text
    lines = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
    actions = {line.get("action") or line.get("body", {}).get("action") for line in lines}
    assert {"post_tool_use", "budget_exceeded", "llm_call_refused"} <= actions


def test_the_demo_is_deterministic_for_a_seed(tmp_path):
    def tokens(run: int) -> str:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "kaizen_otel.demo",
                "--iterations",
                "4",
                "--agents",
                "2",
                "--port",
                "0",
                "--hold",
                "0",
                "--seed",
                "3",
                "--audit-path",
                str(tmp_path / f"a{run}.jsonl"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return next(line for line in out.stdout.splitlines() if line.strip().startswith("tokens"))

    assert tokens(1) == tokens(2)


def test_a_bad_demo_option_names_the_option_and_exits_2():
    from kaizen_otel.demo import main

    assert main(["--agents", "9"]) == 2
