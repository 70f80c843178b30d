"""Read vLLM's Prometheus counters: did the prefix cache hit, how many tokens did vLLM count.

Used by the real-vLLM suite and the benchmarks to check LLMOS against vLLM's own view, and handy
for an operator: `prefix_cache_hit_rate` over a window shows whether prompts keep stable prefixes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)

PREFIX_QUERIES = "vllm:prefix_cache_queries_total"
PREFIX_HITS = "vllm:prefix_cache_hits_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"


def parse(text: str) -> dict[str, float]:
    """Prometheus text format → sample name → value summed over its label sets (prometheus_client's parser).

    A malformed line ends the reading there: what was read before it is still returned.
    """
    totals: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    except ValueError as exc:
        log.debug("unreadable metrics text: %s", exc)
    return totals


def read(url: str, *, timeout: float = 5.0) -> dict[str, float]:
    response = httpx.get(f"{url.rstrip('/').removesuffix('/v1')}/metrics", timeout=timeout)
    response.raise_for_status()
    return parse(response.text)


def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def prefix_cache_hit_rate(change: Mapping[str, float]) -> float:
    """Share of prompt tokens served from the prefix cache, over a `delta` of two readings."""
    queries = change.get(PREFIX_QUERIES, 0.0)
    return change.get(PREFIX_HITS, 0.0) / queries if queries else 0.0
