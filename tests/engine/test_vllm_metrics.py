"""Reading vLLM's Prometheus counters, as the real-vLLM suite and the benchmark do."""

from __future__ import annotations

from engine import vllm_metrics

SAMPLE = """# HELP vllm:prefix_cache_queries Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 256.0
vllm:prefix_cache_queries_total{engine="1",model_name="m"} 128.0
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 128.0
vllm:prefix_cache_hits_created{engine="0",model_name="m"} 1.7959313574702866e+09
vllm:num_requests_running{engine="0",model_name="m"} 0.0
"""


def test_counters_are_summed_over_their_label_sets() -> None:
    counters = vllm_metrics.parse(SAMPLE)
    assert counters[vllm_metrics.PREFIX_QUERIES] == 384.0
    assert counters[vllm_metrics.PREFIX_HITS] == 128.0
    assert "# HELP vllm:prefix_cache_queries" not in counters


def test_the_hit_rate_is_over_the_window_between_two_readings() -> None:
    before = {vllm_metrics.PREFIX_QUERIES: 100.0, vllm_metrics.PREFIX_HITS: 0.0}
    after = {vllm_metrics.PREFIX_QUERIES: 500.0, vllm_metrics.PREFIX_HITS: 300.0}
    assert vllm_metrics.prefix_cache_hit_rate(vllm_metrics.delta(before, after)) == 0.75
    assert vllm_metrics.prefix_cache_hit_rate(vllm_metrics.delta(after, after)) == 0.0
