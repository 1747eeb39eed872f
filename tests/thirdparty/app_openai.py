"""An application run under ``opentelemetry-instrument`` by the tests: it knows nothing of
kaizen_otel's setup, calls the fake OpenAI server through the real client inside an agent run, and
prints what a user would look at (the run's totals, the usage summary, its own /metrics page).
"""

from __future__ import annotations

import json
import sys
import urllib.request

import openai

import kaizen_otel


def main(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
    messages = [{"role": "user", "content": "what is the answer?"}]
    with kaizen_otel.agent_run("researcher") as run:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        for _chunk in stream:
            pass
    handle = kaizen_otel.get_observability()
    url = handle.metrics_url if handle is not None else None
    page = urllib.request.urlopen(url, timeout=5).read().decode() if url else ""
    print(
        json.dumps(
            {
                "run_tokens": run.tokens,
                "run_cost": run.cost_usd,
                "summary": kaizen_otel.usage_summary(),
                "metrics": page,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
