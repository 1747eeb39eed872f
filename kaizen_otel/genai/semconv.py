"""Every span, attribute, metric and event name kaizen_otel's agent helpers emit, as plain strings.

The GenAI semantic conventions moved to their own repository and the Python semconv package marks
its ``gen_ai`` constants deprecated, so we keep the names here, in one module, instead of importing
constants that will warn or disappear. Standard names first (``gen_ai.*``, ``error.type``); our own
names live under ``kaizen.*``. Dashboards and alert rules match these strings, so changing one is a
breaking change.
"""

from __future__ import annotations

# --- operation names (gen_ai.operation.name) ---------------------------------------------------
OP_CHAT = "chat"
OP_TEXT_COMPLETION = "text_completion"
OP_GENERATE_CONTENT = "generate_content"
OP_EMBEDDINGS = "embeddings"
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"

# --- span attributes --------------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"  # seconds, streaming
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
# Content: only recorded when message-content capture is switched on.
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
ERROR_TYPE = "error.type"

TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

# --- kaizen.* attributes ----------------------------------------------------------------------
KAIZEN_OUTCOME = "kaizen.outcome"  # "success" | "error" (bounded; on metrics)
KAIZEN_COST_USD = "kaizen.cost.usd"  # span attribute: cost of one LLM call
KAIZEN_RESPONSE_CHUNKS = "kaizen.response.chunks"  # span attribute: chunks of a streamed answer
KAIZEN_RUN_COST_USD = "kaizen.run.cost.usd"  # span attribute: total cost of an agent run
KAIZEN_RUN_TOKENS = "kaizen.run.tokens"  # span attribute: total tokens of an agent run
KAIZEN_RUN_ITERATIONS = "kaizen.run.iterations"
KAIZEN_BUDGET_SCOPE = "kaizen.budget.scope"  # "run" | "process"
KAIZEN_BUDGET_KIND = "kaizen.budget.kind"  # "usd" | "tokens"
KAIZEN_HOOK_EVENT = "kaizen.hook.event"
KAIZEN_HOOK_UNPAIRED = "kaizen.hook.unpaired"

OUTCOME_SUCCESS = "success"
OUTCOME_ERROR = "error"
SCOPE_RUN = "run"
SCOPE_PROCESS = "process"
KIND_USD = "usd"
KIND_TOKENS = "tokens"

# --- metrics ----------------------------------------------------------------------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"
#: The instrument names of the two above on a meter provider built by ``configure()``: views
#: export them under the standard names and drop every other scope's histogram of those names.
MEASURED_TOKEN_USAGE = "kaizen.measured.gen_ai.client.token.usage"
MEASURED_OPERATION_DURATION = "kaizen.measured.gen_ai.client.operation.duration"
MEASURED_TIME_TO_FIRST_CHUNK = "kaizen.measured.gen_ai.client.operation.time_to_first_chunk"
MEASURED_TIME_PER_OUTPUT_CHUNK = "kaizen.measured.gen_ai.client.operation.time_per_output_chunk"
METRIC_AGENT_RUNS = "kaizen.agent.runs"
METRIC_AGENT_RUN_DURATION = "kaizen.agent.run.duration"
METRIC_AGENT_ACTIVE_RUNS = "kaizen.agent.active_runs"
METRIC_AGENT_ITERATIONS = "kaizen.agent.iterations"
METRIC_AGENT_ITERATION_DURATION = "kaizen.agent.iteration.duration"
METRIC_AGENT_HEARTBEAT = "kaizen.agent.heartbeat"
METRIC_TOOL_CALLS = "kaizen.tool.calls"
METRIC_TOOL_DURATION = "kaizen.tool.duration"
METRIC_LLM_ERRORS = "kaizen.llm.errors"
METRIC_COST = "kaizen.cost"
#: Lower case, so Prometheus names the counter ``kaizen_cost_usd_total`` (one unit per family).
UNIT_USD = "usd"
METRIC_BUDGET_REMAINING_USD = "kaizen.budget.remaining.usd"
METRIC_BUDGET_REMAINING_TOKENS = "kaizen.budget.remaining.tokens"
METRIC_BUDGET_EXCEEDED = "kaizen.budget.exceeded"
METRIC_HOOK_FAILURES = "kaizen.hook.failures"

# Process metrics, in the names of the OTel system-metrics conventions.
METRIC_PROCESS_CPU_TIME = "process.cpu.time"
METRIC_PROCESS_MEMORY_USAGE = "process.memory.usage"
METRIC_PROCESS_THREAD_COUNT = "process.thread.count"
METRIC_GC_COLLECTIONS = "cpython.gc.collections"
CPU_MODE = "cpu.mode"
GC_GENERATION = "cpython.gc.generation"

#: The specification's bucket boundaries for ``gen_ai.client.token.usage`` (ints: ``le="1"``).
TOKEN_USAGE_BUCKETS: tuple[int, ...] = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
#: The specification's bucket boundaries for ``gen_ai.client.operation.duration`` (seconds).
OPERATION_DURATION_BUCKETS: tuple[float, ...] = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
#: Tool calls: from a fast local function to a long shell command (seconds).
TOOL_DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
#: Agent runs and iterations: seconds to a 30-hour autonomous run.
RUN_DURATION_BUCKETS: tuple[float, ...] = (
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    21600.0,
    43200.0,
    86400.0,
    172800.0,
)

# --- log events -------------------------------------------------------------------------------
EVENT_BUDGET_EXCEEDED = "kaizen.budget.exceeded"
EVENT_BUDGET_REFUSED = "kaizen.budget.refused"
