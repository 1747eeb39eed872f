"""The shipped pricing table, overrides from a file, and cost arithmetic."""

from __future__ import annotations

import json
import logging

import pytest

from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.genai import load_pricing


def test_the_shipped_table_is_dated_and_covers_the_main_providers():
    pricing = load_pricing()
    assert pricing.taken[:4].isdigit()
    assert {"openai", "anthropic", "gcp.gemini", "mistral_ai", "deepseek"} <= set(pricing.providers)
    for provider in pricing.providers:
        for model in pricing.models(provider):
            price = pricing.price(provider, model)
            assert price is not None and price.input >= 0 and price.output >= 0


def test_cost_bills_cached_input_tokens_at_the_cached_price():
    pricing = load_pricing()
    cost = pricing.cost(
        "anthropic", "claude-sonnet-4", input_tokens=2000, output_tokens=100, cached_input_tokens=1500
    )
    assert cost == pytest.approx((500 * 3.0 + 1500 * 0.3 + 100 * 15.0) / 1e6)


def test_dated_and_vendor_prefixed_model_names_find_their_base_model():
    pricing = load_pricing()
    assert pricing.price("openai", "gpt-4o-mini-2024-07-18") == pricing.price("openai", "gpt-4o-mini")
    assert pricing.price("openai", "gpt-4o-2024-08-06") == pricing.price("openai", "gpt-4o")
    assert pricing.price("azure.ai.openai", "gpt-4o") == pricing.price("openai", "gpt-4o")
    assert pricing.price("aws.bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0") == pricing.price(
        "anthropic", "claude-3-5-haiku"
    )
    assert pricing.price(None, "openai/gpt-4.1-mini") == pricing.price("openai", "gpt-4.1-mini")
    assert pricing.price("openai", "gpt-4") is None


def test_an_unknown_model_costs_zero_and_is_warned_about_once(caplog):
    pricing = load_pricing()
    with caplog.at_level(logging.WARNING, logger="kaizen_otel.genai"):
        assert pricing.cost("acme", "mystery-1", 100, 100) == 0.0
        assert pricing.cost("acme", "mystery-1", 100, 100) == 0.0
    assert [r.getMessage() for r in caplog.records if "mystery-1" in r.getMessage()] == [
        "no price for model 'mystery-1' (provider 'acme'): its cost is counted as 0; add it to the file "
        "named by KAIZEN_OTEL_PRICING_FILE"
    ]


def test_a_pricing_file_overrides_and_extends_the_shipped_table(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "taken": "2030-01-01",
                "per_tokens": 1000,
                "models": {
                    "openai": {"gpt-4o": {"input": 1, "output": 2}},
                    "acme": {"rocket-1": {"input": 0.5, "output": 1}},
                },
            }
        )
    )
    pricing = load_pricing(str(path))
    assert pricing.cost("openai", "gpt-4o", 1000, 1000) == pytest.approx(3.0)
    assert pricing.cost("acme", "rocket-1", 2000, 0) == pytest.approx(1.0)
    assert pricing.price("openai", "gpt-4o").cached_input == pytest.approx(0.001)
    assert pricing.cost("anthropic", "claude-sonnet-4", 1_000_000, 0) == pytest.approx(3.0)
    assert "2030-01-01" in pricing.taken


@pytest.mark.parametrize(
    "content", ['{"models": []}', "not json", '{"models": {"x": {"m": {"input": -1, "output": 1}}}}']
)
def test_a_bad_pricing_file_raises_a_config_error_naming_the_setting(tmp_path, content):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(KaizenConfigError) as info:
        load_pricing(str(path))
    assert info.value.setting == "pricing_file"
    assert str(info.value).startswith("invalid value for pricing_file")


def test_a_missing_pricing_file_raises_a_config_error(tmp_path):
    with pytest.raises(KaizenConfigError, match="pricing_file"):
        load_pricing(str(tmp_path / "absent.json"))
