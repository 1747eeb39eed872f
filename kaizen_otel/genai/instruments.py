"""The metric instruments of the agent helpers, created once per meter.

Creating an instrument costs a lock and a registry lookup in the SDK, so the helpers never do it
per call: :class:`Instruments` holds every synchronous instrument, built once when
``configure_genai()`` runs. The gauges whose value is a state (heartbeat, budget remaining) are
observable: their callbacks read that state at collection time, so keeping it current costs the
hot path one dict write instead of a metric call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, ObservableGauge, Observation

from kaizen_otel.genai import semconv as sc

__all__ = ["SPANS_MEASURED", "Instruments", "register_state_gauges"]


#: Set on a meter provider whose views rename our two GenAI client histograms to the standard
#: names and drop everyone else's (``configure()`` builds such a provider when tracing is on).
SPANS_MEASURED = "_kaizen_genai_spans_measured"


class Instruments:
    """Every synchronous instrument of the helpers, on one meter."""

    __slots__ = (
        "active_runs",
        "agent_runs",
        "budget_exceeded",
        "cost",
        "hook_failures",
        "iteration_duration",
        "iterations",
        "llm_errors",
        "operation_duration",
        "run_duration",
        "time_per_output_chunk",
        "time_to_first_chunk",
        "token_usage",
        "tool_calls",
        "tool_duration",
    )

    def __init__(self, meter: Meter, *, renamed: bool = False) -> None:
        """``renamed``: the provider's views export the two GenAI client histograms under the
        standard names (see ``SPANS_MEASURED``), so they are created under our own names."""
        self.token_usage = meter.create_histogram(
            sc.MEASURED_TOKEN_USAGE if renamed else sc.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=sc.TOKEN_USAGE_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            sc.MEASURED_OPERATION_DURATION if renamed else sc.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=sc.OPERATION_DURATION_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            sc.MEASURED_TIME_TO_FIRST_CHUNK if renamed else sc.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=sc.OPERATION_DURATION_BUCKETS,
        )
        self.time_per_output_chunk = meter.create_histogram(
            sc.MEASURED_TIME_PER_OUTPUT_CHUNK if renamed else sc.METRIC_TIME_PER_OUTPUT_CHUNK,
            unit="s",
            description="Time between consecutive chunks of a streamed response, after the first.",
            explicit_bucket_boundaries_advisory=sc.OPERATION_DURATION_BUCKETS,
        )
        self.agent_runs = meter.create_counter(
            sc.METRIC_AGENT_RUNS,
            unit="{run}",
            description="Agent runs finished, by agent and outcome.",
        )
        self.run_duration = meter.create_histogram(
            sc.METRIC_AGENT_RUN_DURATION,
            unit="s",
            description="Duration of agent runs.",
            explicit_bucket_boundaries_advisory=sc.RUN_DURATION_BUCKETS,
        )
        self.active_runs = meter.create_up_down_counter(
            sc.METRIC_AGENT_ACTIVE_RUNS,
            unit="{run}",
            description="Agent runs in progress.",
        )
        self.iterations = meter.create_counter(
            sc.METRIC_AGENT_ITERATIONS,
            unit="{iteration}",
            description="Agent loop iterations finished, by agent and outcome.",
        )
        self.iteration_duration = meter.create_histogram(
            sc.METRIC_AGENT_ITERATION_DURATION,
            unit="s",
            description="Duration of agent loop iterations.",
            explicit_bucket_boundaries_advisory=sc.RUN_DURATION_BUCKETS,
        )
        self.tool_calls = meter.create_counter(
            sc.METRIC_TOOL_CALLS,
            unit="{call}",
            description="Tool calls finished, by tool and outcome.",
        )
        self.tool_duration = meter.create_histogram(
            sc.METRIC_TOOL_DURATION,
            unit="s",
            description="Duration of tool calls.",
            explicit_bucket_boundaries_advisory=sc.TOOL_DURATION_BUCKETS,
        )
        self.llm_errors = meter.create_counter(
            sc.METRIC_LLM_ERRORS,
            unit="{error}",
            description="Failed LLM calls, by provider, model and error type.",
        )
        self.cost = meter.create_counter(
            sc.METRIC_COST,
            unit=sc.UNIT_USD,
            description="Spend on LLM calls, from the pricing table.",
        )
        self.budget_exceeded = meter.create_counter(
            sc.METRIC_BUDGET_EXCEEDED,
            unit="{event}",
            description="Budgets crossed, by scope and kind.",
        )
        self.hook_failures = meter.create_counter(
            sc.METRIC_HOOK_FAILURES,
            unit="{failure}",
            description="Hook handlers that raised, by event.",
        )


def register_state_gauges(
    meter: Meter,
    heartbeat: Callable[[], Iterable[Observation]],
    budget_remaining: Callable[[str], Iterable[Observation]],
) -> tuple[ObservableGauge, ObservableGauge, ObservableGauge]:
    """The gauges that report state rather than events: heartbeat and budget remaining.

    Budget remaining is two gauges, one per unit (USD and tokens), so each Prometheus family
    carries one unit in its name and a sum or comparison never mixes dollars with tokens.
    ``budget_remaining`` is called with the kind (``sc.KIND_USD`` or ``sc.KIND_TOKENS``).
    """

    def _heartbeat(_options: CallbackOptions) -> Iterable[Observation]:
        return heartbeat()

    def _remaining_usd(_options: CallbackOptions) -> Iterable[Observation]:
        return budget_remaining(sc.KIND_USD)

    def _remaining_tokens(_options: CallbackOptions) -> Iterable[Observation]:
        return budget_remaining(sc.KIND_TOKENS)

    return (
        meter.create_observable_gauge(
            sc.METRIC_AGENT_HEARTBEAT,
            callbacks=[_heartbeat],
            unit="s",
            description="Unix time of each agent's last progress (LLM call, tool call, iteration).",
        ),
        meter.create_observable_gauge(
            sc.METRIC_BUDGET_REMAINING_USD,
            callbacks=[_remaining_usd],
            unit=sc.UNIT_USD,
            description="Spend budget left in USD, per scope (run: per agent; process).",
        ),
        meter.create_observable_gauge(
            sc.METRIC_BUDGET_REMAINING_TOKENS,
            callbacks=[_remaining_tokens],
            unit="{token}",
            description="Token budget left, per scope (run: per agent; process).",
        ),
    )
