"""An application for the content tests: openai + openai-v2 and anthropic + its instrumentation
(message events), both told by their own settings to record message content, with a secret in the
prompt. kaizen_otel is configured from the environment the test gives (exporters, capture,
redaction, audit). It prints one JSON line: what the live view shows of its runs.
"""

from __future__ import annotations

import json
import sys
import urllib.request

import anthropic
import openai
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

import kaizen_otel

#: Text no sink may show with capture off, and a key redaction must remove with capture on.
PROMPT = "what is the answer? secret-prompt-text"
KEY = "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm"
SYSTEM = "be brief, secret-system-text"


def main(base_url: str) -> None:
    handle = kaizen_otel.configure()
    OpenAIInstrumentor().instrument()
    # the events path: prompts and answers in gen_ai.*.message / gen_ai.choice log records
    AnthropicInstrumentor(use_attributes=False).instrument()
    chat = openai.OpenAI(base_url=base_url + "/v1", api_key="test-key", max_retries=0)
    messages = anthropic.Anthropic(base_url=base_url, api_key="test-key", max_retries=0)
    prompt = f"{PROMPT} my key is {KEY}"
    with kaizen_otel.agent_run("researcher"):
        chat.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        )
        messages.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=100,
            system=SYSTEM,
            messages=[{"role": "user", "content": prompt}],
        )
    live = []
    if handle.metrics_url:
        base = handle.metrics_url.rsplit("/", 1)[0]
        runs = json.loads(urllib.request.urlopen(base + "/api/runs", timeout=5).read())
        live.append(runs)
        for run in runs.get("runs", []):
            detail = urllib.request.urlopen(f"{base}/api/runs/{run['id']}", timeout=5).read()
            live.append(json.loads(detail))
    handle.shutdown()
    print(json.dumps({"live": live}))


if __name__ == "__main__":
    main(sys.argv[1])
