"""Engine slots from the engine's own metrics: parsing vLLM's gauges and the controller's rule."""

from __future__ import annotations

import httpx

from engine.simulator import SimulatedEngine, SimulatorConfig
from workers.scheduler.capacity import EngineLoad, SlotController, parse_metrics, read_load

VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen2.5-7B"} 12.0
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen2.5-7B"} 4.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen2.5-7B"} 3.0
vllm:num_requests_waiting_by_reason{engine="0",reason="capacity"} 99.0
vllm:gpu_cache_usage_perc{engine="0"} 0.5
"""


def test_parse_sums_the_gauges_over_engines() -> None:
    assert parse_metrics(VLLM_METRICS) == EngineLoad(running=16.0, waiting=3.0)
    assert parse_metrics("process_cpu_seconds_total 3.0\n") is None
    assert parse_metrics("") is None


def test_the_controller_grows_while_the_engine_has_room_and_backs_off_when_it_queues() -> None:
    control = SlotController(fixed=None, maximum=64)
    idle = EngineLoad(running=2, waiting=0)
    assert control.next_limit(4, idle, in_flight=2) == 4  # slots to spare: no reason to grow
    assert control.next_limit(4, idle, in_flight=4) == 8
    assert control.next_limit(8, idle, in_flight=8) == 16
    assert control.next_limit(16, EngineLoad(running=10, waiting=6), in_flight=16) == 10
    assert control.ceiling == 10
    assert control.next_limit(10, EngineLoad(running=10, waiting=0), in_flight=10) == 11  # carefully past it
    assert control.next_limit(64, idle, in_flight=64) == 64
    assert SlotController(fixed=None, maximum=64).next_limit(4, None, in_flight=4) == 1
    assert SlotController(fixed=6, maximum=64).next_limit(4, EngineLoad(1, 9), in_flight=4) == 6


def test_the_simulator_reports_like_vllm() -> None:
    with SimulatedEngine(SimulatorConfig(vllm=True, capacity=2)) as sim, httpx.Client() as client:
        assert read_load(client, f"{sim.url}/metrics") == EngineLoad(running=0, waiting=0)
    with SimulatedEngine(SimulatorConfig()) as plain, httpx.Client() as client:
        assert read_load(client, f"{plain.url}/metrics") is None
    with httpx.Client() as client:
        assert read_load(client, "http://127.0.0.1:9/metrics") is None


LLAMACPP_METRICS = """\
# HELP llamacpp:requests_processing Number of requests processing.
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 4
# HELP llamacpp:requests_deferred Number of requests deferred.
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 2
"""


def test_parse_reads_llama_cpp_servers_gauges_too() -> None:
    assert parse_metrics(LLAMACPP_METRICS) == EngineLoad(running=4.0, waiting=2.0)
    # A broken line ends the reading; what came before it still counts.
    assert parse_metrics(VLLM_METRICS + "vllm:broken{ 1\n") == EngineLoad(running=16.0, waiting=3.0)
