"""p50/p95/p99 estimated from Prometheus histogram buckets, for ``export_metrics()``.

The source documents export ``<name>_p50``, ``_p95`` and ``_p99`` lines computed from every value
ever observed. Keeping every value is unbounded memory for a 30-hour agent, so the estimate here
reads the cumulative bucket counts a histogram already has, the way PromQL's
``histogram_quantile()`` does: find the bucket where the cumulative count reaches ``q * count``
and interpolate linearly inside it.

Error bound (non-negative observations): the true nearest-rank sample quantile lies in the same
bucket as the estimate, so ``|estimate - true| <= upper - lower`` of that bucket. The first bucket
starts at 0. When the rank falls in the ``+Inf`` bucket the estimate is the highest finite bound,
a lower bound of the true value (as in PromQL). A histogram holding one observation gives that
observation exactly (its ``_sum``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

__all__ = ["QUANTILES", "bucket_quantile", "quantile_families", "render_with_quantiles"]

#: The quantiles the source documents export, and the suffix of each family.
QUANTILES: tuple[tuple[float, str], ...] = ((0.5, "_p50"), (0.95, "_p95"), (0.99, "_p99"))


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The ``q`` quantile of a histogram given as ``(upper bound, cumulative count)`` pairs.

    ``buckets`` are sorted by upper bound and end with ``+Inf``. NaN when the histogram is empty.
    """
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for index, (upper, cumulative) in enumerate(buckets):
        if cumulative >= rank and cumulative > below:
            if math.isinf(upper):
                return buckets[index - 1][0] if index > 0 else math.nan
            if index == 0 and upper <= 0:
                return upper
            return lower + (upper - lower) * (rank - below) / (cumulative - below)
        lower, below = upper, cumulative
    return buckets[-2][0] if len(buckets) > 1 else math.nan


def _series(family: Metric) -> Iterator[tuple[dict[str, str], list[tuple[float, float]], float]]:
    """Each label set of a histogram family (without ``le``): its sorted buckets and its sum."""
    by_labels: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    sums: dict[tuple[tuple[str, str], ...], float] = {}
    bucket_name, sum_name = family.name + "_bucket", family.name + "_sum"
    for sample in family.samples:
        if sample.name == sum_name:
            sums[tuple(sorted(sample.labels.items()))] = float(sample.value)
        elif sample.name == bucket_name and "le" in sample.labels:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            by_labels.setdefault(labels, []).append((float(sample.labels["le"]), float(sample.value)))
    for labels, buckets in by_labels.items():
        buckets.sort()
        yield dict(labels), buckets, sums.get(labels, math.nan)


def series_quantile(q: float, buckets: Sequence[tuple[float, float]], total: float) -> float:
    """:func:`bucket_quantile`, exact for a histogram of one observation (its sum is the value)."""
    if buckets and buckets[-1][1] == 1 and not math.isnan(total):
        return total
    return bucket_quantile(q, buckets)


def quantile_families(families: Iterable[Metric]) -> list[Metric]:
    """Gauge families ``<histogram>_p50/_p95/_p99`` for every histogram series in ``families``."""
    out: list[Metric] = []
    for family in families:
        if family.type != "histogram":
            continue
        series = list(_series(family))
        if not series:
            continue
        names = sorted({k for labels, _, _ in series for k in labels})
        for q, suffix in QUANTILES:
            gauge = GaugeMetricFamily(
                family.name + suffix,
                f"{int(q * 100)}th percentile of {family.name}, estimated from its buckets",
                labels=names,
            )
            for labels, buckets, total in series:
                value = series_quantile(q, buckets, total)
                if not math.isnan(value):
                    gauge.add_metric([labels.get(k, "") for k in names], value)
            if gauge.samples:
                out.append(gauge)
    return out


class _Snapshot:
    """What ``generate_latest`` needs: an object whose ``collect()`` yields metric families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def render_with_quantiles(registry: Any) -> str:
    """The Prometheus text of one collection of ``registry``, plus its histograms' quantiles."""
    families = list(registry.collect())
    return generate_latest(_Snapshot(families + quantile_families(families))).decode()  # type: ignore[arg-type]
