"""Spend and token budgets, per agent run and per process.

A budget is crossed when what was used goes *over* its limit. Crossing is reported exactly once
per scope (one warning, one audit record, one ``kaizen.budget.exceeded`` increment) through the
callback the runtime passes in. In enforce mode the next LLM call of that scope is refused before
it is made (:class:`~kaizen_otel.exceptions.BudgetExceededError`): usage is only known after a
call returns, so a call that starts under the limit is allowed to finish, and the guard stops the
runaway *next* one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from kaizen_otel.exceptions import BudgetExceededError
from kaizen_otel.genai import semconv as sc

__all__ = ["BudgetCrossing", "BudgetLimits", "BudgetTracker", "RunBudget"]


@dataclass(frozen=True)
class BudgetLimits:
    """Limits of one scope; ``None`` means no limit of that kind."""

    usd: float | None = None
    tokens: int | None = None

    @property
    def any(self) -> bool:
        return self.usd is not None or self.tokens is not None


class BudgetCrossing(NamedTuple):
    """One budget crossed: what the report (log, audit, metric) says.

    A named tuple (immutable, compared by value) rather than a frozen dataclass, whose generated
    methods would be compiled at every ``configure()``.
    """

    scope: str  # "run" | "process"
    kind: str  # "usd" | "tokens"
    limit: float
    used: float
    agent_name: str | None
    agent_id: str | None

    def message(self) -> str:
        unit = "USD" if self.kind == sc.KIND_USD else "tokens"
        who = f" of agent {self.agent_name!r}" if self.scope == sc.SCOPE_RUN and self.agent_name else ""
        return (
            f"{self.scope} budget{who} exceeded: {self.used:.6g} {unit} used, limit {self.limit:.6g} {unit}"
        )


class RunBudget:
    """What one agent run has spent, and its limits. Owned by the run's invocation."""

    __slots__ = ("agent_id", "agent_name", "exceeded", "limited", "limits", "tokens", "usd")

    def __init__(self, limits: BudgetLimits, agent_name: str | None, agent_id: str | None) -> None:
        self.limits = limits
        self.limited = limits.any
        self.agent_name = agent_name
        self.agent_id = agent_id
        self.usd = 0.0
        self.tokens = 0
        self.exceeded: BudgetCrossing | None = None


class BudgetTracker:
    """Process totals, default run limits, crossing detection and the enforce-mode guard."""

    def __init__(
        self,
        *,
        run: BudgetLimits,
        process: BudgetLimits,
        enforce: bool,
        on_exceeded: Callable[[BudgetCrossing], None],
    ) -> None:
        self.run_limits = run
        self.process_limits = process
        self._process_limited = process.any
        self.enforce = enforce
        self._on_exceeded = on_exceeded
        self._lock = threading.Lock()
        self.usd = 0.0
        self.tokens = 0
        self.process_exceeded: BudgetCrossing | None = None
        self._reported_kinds: set[str] = set()
        self.last_run: dict[str, RunBudget] = {}

    def new_run(
        self, agent_name: str | None, agent_id: str | None, usd: float | None, tokens: int | None
    ) -> RunBudget:
        limits = self.run_limits
        if usd is not None or tokens is not None:
            limits = BudgetLimits(
                usd if usd is not None else limits.usd, tokens if tokens is not None else limits.tokens
            )
        return RunBudget(limits, agent_name, agent_id)

    def check(self, run: RunBudget | None) -> None:
        """Enforce mode: refuse the next call once its run or the process crossed a budget."""
        if not self.enforce:
            return
        crossing = self.process_exceeded or (run.exceeded if run is not None else None)
        if crossing is not None:
            raise BudgetExceededError(
                f"LLM call refused: {crossing.message()}",
                scope=crossing.scope,
                limit=crossing.limit,
                used=crossing.used,
            )

    def add(self, run: RunBudget | None, usd: float, tokens: int) -> None:
        """Count one call's spend against its run and the process; report what it crossed."""
        crossings: list[BudgetCrossing] | None = None  # allocated only when something is crossed
        with self._lock:  # totals feed the summaries even when no budget is set
            self.usd += usd
            self.tokens += tokens
            if run is not None:
                run.usd += usd
                run.tokens += tokens
                if run.limited and run.exceeded is None:
                    if run.agent_name is not None:
                        self.last_run[run.agent_name] = run
                    run.exceeded = _crossed(run.limits, run.usd, run.tokens, sc.SCOPE_RUN, run)
                    if run.exceeded is not None:
                        crossings = [run.exceeded]
            if self._process_limited:
                crossing = _crossed(self.process_limits, self.usd, self.tokens, sc.SCOPE_PROCESS, run)
                if crossing is not None and crossing.kind not in self._reported_kinds:
                    self._reported_kinds.add(crossing.kind)
                    self.process_exceeded = self.process_exceeded or crossing
                    crossings = [*(crossings or ()), crossing]
        if crossings is not None:
            for item in crossings:
                self._on_exceeded(item)

    def remaining(self, kind: str) -> list[tuple[float, dict[str, str]]]:
        """(value, attributes) of every configured budget of ``kind`` (``usd`` or ``tokens``).

        Feeds the ``kaizen.budget.remaining.usd`` and ``kaizen.budget.remaining.tokens`` gauges.
        """
        out: list[tuple[float, dict[str, str]]] = []
        usd = kind == sc.KIND_USD
        with self._lock:
            left = _left(self.process_limits, self.usd, self.tokens, usd)
            if left is not None:
                out.append((left, {sc.KAIZEN_BUDGET_SCOPE: sc.SCOPE_PROCESS}))
            for name, run in self.last_run.items():
                left = _left(run.limits, run.usd, run.tokens, usd)
                if left is not None:
                    out.append((left, {sc.KAIZEN_BUDGET_SCOPE: sc.SCOPE_RUN, sc.GEN_AI_AGENT_NAME: name}))
        return out


def _left(limits: BudgetLimits, usd: float, tokens: int, in_usd: bool) -> float | None:
    """What is left of one limit (never below 0), or ``None`` when that limit is not set."""
    if in_usd:
        return None if limits.usd is None else max(limits.usd - usd, 0.0)
    return None if limits.tokens is None else float(max(limits.tokens - tokens, 0))


def _crossed(
    limits: BudgetLimits, usd: float, tokens: int, scope: str, run: RunBudget | None
) -> BudgetCrossing | None:
    name = run.agent_name if run is not None else None
    agent_id = run.agent_id if run is not None else None
    if limits.usd is not None and usd > limits.usd:
        return BudgetCrossing(scope, sc.KIND_USD, limits.usd, usd, name, agent_id)
    if limits.tokens is not None and tokens > limits.tokens:
        return BudgetCrossing(scope, sc.KIND_TOKENS, float(limits.tokens), float(tokens), name, agent_id)
    return None
