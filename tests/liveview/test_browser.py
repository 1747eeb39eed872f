"""The live page in a real browser (Debian's Chromium through selenium), against a running demo."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kaizen_otel
from kaizen_otel.genai import agent_run, tool_call

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def _wait(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it gives a true value; an element replaced mid-read counts as "not yet"."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Demo:
    """``python -m kaizen_otel.demo`` in a subprocess; its stderr read line by line."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        env = {**os.environ, "KAIZEN_OTEL_LOGS_EXPORTER": "none"}
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kaizen_otel.demo",
                "--port",
                "0",
                "--audit-path",
                str(tmp_path / "a.jsonl"),
                *args,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)

    def live_view_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            match = re.search(r"live view: (http://\S+)", line)
            if match:
                return match.group(1)
        raise AssertionError("the demo did not print the live view's address")

    def summary(self) -> str:
        out, _ = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, out
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    started: list[Demo] = []

    def start(*args: str) -> Demo:
        started.append(Demo(tmp_path, *args))
        return started[-1]

    yield start
    for one in started:
        one.stop()


# The page re-renders its lists as data arrives, so reads take one snapshot in the page (no stale
# element between two reads) and clicks find their element again if it was just replaced.
_RUNS = """return [...document.querySelectorAll('#runs tbody tr')].map(row => ({
    id: row.dataset.id, status: row.dataset.status, depth: row.dataset.depth,
    agent: row.querySelector('.agent').textContent}));"""
_TREE = """return [...document.querySelectorAll('#tree .span-row')].map(row => ({
    id: row.dataset.id, depth: Number(row.dataset.depth), operation: row.dataset.operation,
    name: row.querySelector('.span-name').textContent, error: row.classList.contains('error')}));"""
_TEXTS = "return [...document.querySelectorAll(arguments[0])].map(node => node.textContent);"


def _rows(browser: Any) -> list[dict[str, Any]]:
    return list(browser.execute_script(_RUNS))


def _click(browser: Any, selector: str) -> None:
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(20):
        try:
            browser.find_element("css selector", selector).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.05)
    raise AssertionError(f"{selector} kept being replaced")


def _summary_numbers(text: str) -> dict[str, float]:
    spans = re.search(r"spans\s+(\d+) \((\d+) agent runs, (\d+) LLM calls, (\d+) tool calls\)", text)
    tokens = re.search(r"tokens\s+(\d+) input, (\d+) output", text)
    cost = re.search(r"cost\s+\$([0-9.]+)", text)
    budget = re.search(r"budget\s+(\d+) crossed", text)
    assert spans and tokens and cost and budget, text
    return {
        "agent_runs": int(spans.group(2)),
        "llm_calls": int(spans.group(3)),
        "tool_calls": int(spans.group(4)),
        "input_tokens": int(tokens.group(1)),
        "output_tokens": int(tokens.group(2)),
        "cost": float(cost.group(1)),
        "budget_crossings": int(budget.group(1)),
    }


_TOTALS = """return [...document.querySelectorAll('[data-total]')].map(
    node => [node.dataset.total, node.textContent]);"""


def _page_totals(browser: Any) -> dict[str, float]:
    """One snapshot taken in the page, so a re-render between reads cannot leave a stale element."""
    return {
        name: float(text.replace(",", "").replace("$", "").strip())
        for name, text in browser.execute_script(_TOTALS)
    }


def test_the_page_follows_a_running_demo_and_its_totals_equal_the_demo_summary(
    browser: Any, demo: Callable[..., Demo], artifacts: Path
) -> None:
    running = demo("--iterations", "10", "--rounds", "2", "--pause", "4", "--hold", "4")
    url = running.live_view_url()
    browser.get(url)
    # Round one: the supervisor and its three workers, each listed under the supervisor.
    _wait(
        "the first round's four runs",
        lambda: len(_rows(browser)) >= 4 and all(row["status"] != "running" for row in _rows(browser)[:4]),
    )
    browser.execute_script("window.__sameDocument = true;")
    first = _rows(browser)[:4]
    assert [row["depth"] for row in first] == ["0", "1", "1", "1"]
    assert first[0]["agent"] == "supervisor"

    # Open the supervisor: its tree nests the workers, and each worker its model and tool calls.
    run_id = first[0]["id"]
    _click(browser, f'#runs tbody tr[data-id="{run_id}"]')
    _wait("the span tree", lambda: browser.execute_script(_TREE))
    detail = json.load(urllib.request.urlopen(url.replace("/ui/", f"/api/runs/{run_id}"), timeout=10))
    run = detail["run"]
    tree = [(row["depth"], row["operation"], row["name"]) for row in browser.execute_script(_TREE)]
    assert tree[0] == (0, "invoke_agent", "invoke_agent supervisor")
    assert sorted(name for depth, op, name in tree if depth == 1) == [
        "invoke_agent coder",
        "invoke_agent planner",
        "invoke_agent researcher",
    ]
    assert {op for depth, op, _ in tree if depth == 2} == {"chat", "execute_tool"}
    assert sum(op == "chat" for _, op, _ in tree) == run["llm_calls"]
    assert sum(op == "execute_tool" for _, op, _ in tree) == run["tool_calls"]
    assert len(tree) == 4 + run["llm_calls"] + run["tool_calls"] == run["spans"]
    worker_rows = [i for i, (depth, _, _) in enumerate(tree) if depth == 1]
    for start, end in zip(worker_rows, [*worker_rows[1:], len(tree)], strict=True):
        assert all(depth == 2 for depth, _, _ in tree[start + 1 : end])  # calls sit under their worker

    # Round two arrives in the same document: no reload.
    _wait("the second round's runs", lambda: len(_rows(browser)) >= 8, timeout=60)
    assert browser.execute_script("return window.__sameDocument === true;")
    assert [row["agent"] for row in _rows(browser)][::4] == ["supervisor", "supervisor"]

    # A failed tool call shows its error on the span and in the waterfall.
    failed = [row for row in browser.execute_script(_TREE) if row["error"]]
    assert failed, "the demo's fetch_url fails now and then"
    _click(browser, f'#tree .span-row[data-id="{failed[0]["id"]}"]')
    _wait("the span's attributes", lambda: browser.find_element("css selector", "#span-info").is_displayed())
    attributes = " ".join(browser.execute_script(_TEXTS, "#span-attributes td"))
    assert "error.type" in attributes and "gen_ai.tool.name" in attributes

    # The audit tail shows the demo's records, and verifying from the page checks the live trail.
    audit = _wait("the audit tail", lambda: browser.execute_script(_TEXTS, "#audit-records tbody tr"))
    assert any("post_tool_use" in row for row in audit)
    _click(browser, "#verify")
    verdict = _wait(
        "the verification",
        lambda: browser.execute_script(_TEXTS, "#verify-result.ok, #verify-result.bad"),
    )
    assert verdict[0].startswith("verified at"), verdict

    browser.save_screenshot(str(artifacts / "liveview-demo.png"))
    summary = _summary_numbers(running.summary())
    totals = _page_totals(browser)  # what the page showed last, before the demo's server went away
    assert {key: totals[key] for key in summary if key != "cost"} == {
        key: value for key, value in summary.items() if key != "cost"
    }
    assert abs(totals["cost"] - summary["cost"]) < 0.00006


def test_values_from_telemetry_are_text_redacted_values_are_marked_and_content_stays_hidden(
    browser: Any, clean_env: pytest.MonkeyPatch, artifacts: Path
) -> None:
    obs = kaizen_otel.configure(service_name="browser-test", prometheus_port=0, logs_exporter="none")
    with agent_run("intruder"), tool_call("render") as call:
        call.set_attribute("page.html", '<img src=x onerror="window.__pwned = 1">')
        call.set_attribute("db.password", "correct-horse-battery-staple")
        call.set_attribute("gen_ai.tool.call.result", "the patient's diagnosis")
    browser.get(obs.live_view_url)
    run = _wait("the run", lambda: _rows(browser))[0]
    _click(browser, f'#runs tbody tr[data-id="{run["id"]}"]')
    tool = _wait(
        "the tool span",
        lambda: [row for row in browser.execute_script(_TREE) if "render" in row["name"]],
    )[0]
    _click(browser, f'#tree .span-row[data-id="{tool["id"]}"]')
    table = _wait("the attributes", lambda: browser.find_element("css selector", "#span-attributes").text)
    assert '<img src=x onerror="window.__pwned = 1">' in table
    assert browser.execute_script("return window.__pwned === undefined;")
    assert browser.find_elements("css selector", "#span-attributes .redacted")
    assert "correct-horse" not in browser.page_source
    assert "diagnosis" not in browser.page_source
    assert "not captured" in table
    browser.save_screenshot(str(artifacts / "liveview-redaction.png"))
