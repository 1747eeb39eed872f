"""Token prices and the cost of one LLM call, from a table shipped inside the package.

Nothing is downloaded: the table in ``pricing.json`` ships with the package (with the date its
prices were taken) and a file named by the ``pricing_file`` setting overrides or extends it, model
by model. An unknown model costs 0 and is warned about once, never an exception: a missing price
must not stop an agent.

Token accounting follows the GenAI conventions: ``input_tokens`` counts every input token,
including those served from the provider's prompt cache; ``cached_input_tokens`` says how many of
them were cached (billed at the cached price when the table has one); reasoning tokens are part of
``output_tokens``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["ModelPrice", "Pricing", "load_pricing"]

_log = logging.getLogger("kaizen_otel.genai")
_CACHE_LIMIT = 1024
_FORMAT = (
    'a JSON object {"taken": "YYYY-MM-DD", "per_tokens": 1000000, '
    '"models": {provider: {model: {"input": n, "output": n, "cached_input": n}}}} '
    "with non-negative prices"
)


@dataclass(frozen=True)
class ModelPrice:
    """Prices of one model, in USD per single token."""

    input: float
    output: float
    cached_input: float

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """USD for one call; cached tokens are part of ``input_tokens`` and billed at their price."""
        cached = min(max(cached_input_tokens, 0), input_tokens)
        return (input_tokens - cached) * self.input + cached * self.cached_input + output_tokens * self.output


class Pricing:
    """A lookup from (provider, model) to :class:`ModelPrice`, with a bounded memo of answers.

    Models match exactly or by their longest listed prefix followed by ``-``, ``:`` or ``@``, so
    dated names (``gpt-4o-2024-08-06``) and vendor prefixes (``openai/gpt-4o``,
    ``anthropic.claude-3-5-haiku-20241022-v1:0``) find their base model. A provider not in the
    table (for example ``azure.ai.openai``) falls back to a search across all providers.
    """

    def __init__(
        self, models: Mapping[str, Mapping[str, ModelPrice]], *, taken: str = "", source: str = ""
    ) -> None:
        self.taken = taken
        self.source = source
        self._models = {p.lower(): {m.lower(): price for m, price in t.items()} for p, t in models.items()}
        self._memo: dict[tuple[str | None, str], ModelPrice | None] = {}
        self._warned: set[tuple[str | None, str]] = set()
        self._lock = threading.Lock()

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self._models)

    def models(self, provider: str) -> tuple[str, ...]:
        return tuple(self._models.get(provider.lower(), {}))

    def price(self, provider: str | None, model: str) -> ModelPrice | None:
        """The price of ``model`` (``None`` when neither the model nor a prefix of it is listed)."""
        key = (provider, model)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = self._find(provider, model)
        if len(self._memo) < _CACHE_LIMIT:
            self._memo[key] = found
        return found

    def cost(
        self,
        provider: str | None,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
    ) -> float:
        """USD for one call; 0.0 (and one warning per model) when the model has no price."""
        if not model:
            return 0.0
        price = self.price(provider, model)
        if price is None:
            self._warn_unknown(provider, model)
            return 0.0
        return price.cost(input_tokens, output_tokens, cached_input_tokens)

    def _warn_unknown(self, provider: str | None, model: str) -> None:
        key = (provider, model)
        if key in self._warned:
            return
        with self._lock:
            if key in self._warned or len(self._warned) >= _CACHE_LIMIT:
                return
            self._warned.add(key)
        _log.warning(
            "no price for model %r (provider %r): its cost is counted as 0; add it to the file "
            "named by KAIZEN_OTEL_PRICING_FILE",
            model,
            provider,
        )

    def _find(self, provider: str | None, model: str) -> ModelPrice | None:
        names = _candidate_names(model.lower())
        tables: list[Mapping[str, ModelPrice]] = []
        own = self._models.get(provider.lower()) if provider else None
        if own is not None:
            tables.append(own)
        tables.extend(t for p, t in self._models.items() if t is not own)
        for table in tables:
            for name in names:
                found = _match(table, name)
                if found is not None:
                    return found
        return None


def _candidate_names(model: str) -> list[str]:
    names = [model]
    tail = model.rsplit("/", 1)[-1]
    if tail != model:
        names.append(tail)
    head, dot, rest = tail.partition(".")
    if dot and head.isalpha():
        names.append(rest)
    return names


def _match(table: Mapping[str, ModelPrice], name: str) -> ModelPrice | None:
    exact = table.get(name)
    if exact is not None:
        return exact
    best: str | None = None
    for key in table:
        fits = len(name) > len(key) and name.startswith(key) and name[len(key)] in "-:@"
        if fits and (best is None or len(key) > len(best)):
            best = key
    return table[best] if best is not None else None


def load_pricing(path: str | None = None) -> Pricing:
    """The shipped table, with the entries of the JSON file at ``path`` (if any) laid over it.

    A file that cannot be read or does not have the table's shape raises
    :class:`~kaizen_otel.exceptions.KaizenConfigError` naming ``pricing_file``.
    """
    shipped = _parse(json.loads(_shipped_text()), "the shipped pricing.json")
    if path is None:
        return Pricing(shipped[0], taken=shipped[1], source=shipped[2])
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise KaizenConfigError("pricing_file", path, f"a readable JSON file ({exc})") from exc
    override = _parse(document, path)
    merged: dict[str, dict[str, ModelPrice]] = {p: dict(t) for p, t in shipped[0].items()}
    for provider, table in override[0].items():
        merged.setdefault(provider, {}).update(table)
    taken = f"{shipped[1]}; {path}: {override[1] or 'undated'}"
    return Pricing(merged, taken=taken, source=f"{shipped[2]} Overridden by {path}.")


def _shipped_text() -> str:
    """The shipped ``pricing.json``: a plain read beside this module, the usual installed case.

    ``importlib.resources`` (which also reads from zip imports) is the fallback only: importing it
    costs a few milliseconds of every ``configure()``.
    """
    try:
        with open(os.path.join(os.path.dirname(__file__), "pricing.json"), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        from importlib import resources

        return resources.files("kaizen_otel.genai").joinpath("pricing.json").read_text("utf-8")


def _parse(document: Any, where: str) -> tuple[dict[str, dict[str, ModelPrice]], str, str]:
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise KaizenConfigError("pricing_file", where, _FORMAT)
    per = document.get("per_tokens", 1_000_000)
    if isinstance(per, bool) or not isinstance(per, (int, float)) or per <= 0:
        raise KaizenConfigError("pricing_file", where, _FORMAT)
    models: dict[str, dict[str, ModelPrice]] = {}
    for provider, table in document["models"].items():
        if not isinstance(table, dict):
            raise KaizenConfigError("pricing_file", where, _FORMAT)
        models[str(provider).lower()] = {
            str(model).lower(): _price(entry, per, where, f"{provider}/{model}")
            for model, entry in table.items()
        }
    return models, str(document.get("taken", "")), str(document.get("source", ""))


def _price(entry: Any, per: float, where: str, name: str) -> ModelPrice:
    if not isinstance(entry, dict):
        raise KaizenConfigError("pricing_file", where, f"{_FORMAT} (entry {name})")
    values: dict[str, float] = {}
    for field in ("input", "output", "cached_input"):
        raw = entry.get(field, entry.get("input") if field == "cached_input" else None)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
            raise KaizenConfigError("pricing_file", where, f"{_FORMAT} (entry {name}, field {field})")
        values[field] = float(raw) / per
    return ModelPrice(values["input"], values["output"], values["cached_input"])
