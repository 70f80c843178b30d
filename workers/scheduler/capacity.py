"""How many requests the engine can take at once, measured from the engine itself where it can tell.

vLLM reports on `/metrics` how many requests it is running and how many it has queued. While it
queues nothing and LLMOS fills every slot it was given, the engine has room: the limit grows (doubling
up to the last level at which the engine started to queue, then one at a time). Once the engine queues
requests, its batch is full: the limit falls to what it actually runs of ours. An engine without such
metrics gets a fixed in-flight count; llama.cpp's server reports the same two numbers under its own
names (requests processing, requests deferred while every slot is busy). Work held back this way waits
in LLMOS's queues, in priority and fairness order, not in the engine's FIFO.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from engine.vllm_metrics import parse

log = logging.getLogger(__name__)

# (running, waiting) gauges of vLLM and of llama.cpp's server.
GAUGES = (
    ("vllm:num_requests_running", "vllm:num_requests_waiting"),
    ("llamacpp:requests_processing", "llamacpp:requests_deferred"),
)


@dataclass(frozen=True, slots=True)
class EngineLoad:
    running: float
    waiting: float


def parse_metrics(text: str) -> EngineLoad | None:
    """Sum the running and waiting gauges over every label set; None if the engine exports neither."""
    values = parse(text)
    for running, waiting in GAUGES:
        if running in values:
            return EngineLoad(running=values[running], waiting=values.get(waiting, 0.0))
    return None


def read_load(client: httpx.Client, url: str) -> EngineLoad | None:
    """The engine's load from `url` (its /metrics), or None when it has no such metrics or is down."""
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        log.debug("engine metrics unreachable at %s: %s", url, exc)
        return None
    if response.status_code != 200:
        return None
    return parse_metrics(response.text)


class SlotController:
    def __init__(self, *, fixed: int | None, maximum: int, without_metrics: int = 1) -> None:
        self._fixed = fixed
        self._maximum = maximum
        self._without_metrics = without_metrics
        # The limit at which the engine last began to queue: grow carefully beyond it.
        self.ceiling: int | None = None

    def next_limit(self, current: int, load: EngineLoad | None, in_flight: int) -> int:
        if self._fixed is not None:
            return self._fixed
        if load is None:
            return self._without_metrics
        if load.waiting > 0:
            self.ceiling = max(1, min(current, in_flight - int(load.waiting)))
            return self.ceiling
        if in_flight < current:
            return current
        doubled = current * 2
        grown = doubled if self.ceiling is None or doubled <= self.ceiling else current + 1
        return max(1, min(self._maximum, grown))
