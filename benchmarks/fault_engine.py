"""The engine of the fault matrix: the simulator on a fixed port that can go down and come back, and
answers slowly enough (a per-token delay) that a fault lands while answers stream.

Every answer ends with END_MARK, so a platform message that has it is a whole answer and one that
lacks it is a cut stream or a message telling the person something went wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from benchmarks.fault_services import free_port
from engine.simulator import SimulatedEngine, SimulatorConfig, text_of

END_MARK = "ENDOFANSWER"
POISON = "POISONPILL"
WORDS = 20


def answer_text(messages: list[dict[str, Any]]) -> str:
    last = next((text_of(m["content"]) for m in reversed(messages) if m.get("role") == "user"), "")
    tag = last.split()[-1] if last.split() else "?"
    return " ".join([f"Answer to {tag}:", *(f"w{i}" for i in range(WORDS)), END_MARK])


class FaultEngine:
    """The simulator, stoppable and restartable on the same port; `on_poison` runs (in the engine's
    loop thread) whenever a request asks the marked poison question."""

    def __init__(self, *, inter_token: float = 0.07, on_poison: Callable[[], None] | None = None) -> None:
        self.port = free_port()
        self.inter_token = inter_token
        self.on_poison = on_poison
        self.poison_requests = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._sim: SimulatedEngine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, messages: list[dict[str, Any]]) -> str:
        with self._lock:
            self.requests += 1
        last = next((text_of(m["content"]) for m in reversed(messages) if m.get("role") == "user"), "")
        if POISON in last:
            with self._lock:
                self.poison_requests += 1
            if self.on_poison is not None:
                self.on_poison()
            # Long enough that the worker is dead long before it ends: this request is never answered.
            return " ".join(f"p{i}" for i in range(2000))
        return answer_text(messages)

    def in_flight(self) -> int:
        """Answers streaming right now."""
        return self._sim.in_flight if self._sim is not None else 0

    def start(self) -> FaultEngine:
        config = SimulatorConfig(vllm=True, inter_token=self.inter_token, capacity=64, answer=self._answer)
        self._sim = SimulatedEngine(config, port=self.port).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections and streams in progress are cut."""
        if self._sim is not None:
            self._sim.stop()
            self._sim = None

    def __enter__(self) -> FaultEngine:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
