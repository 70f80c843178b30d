"""The engine simulator in a process of its own, so its token streaming does not compete with the
benchmark's client threads for one interpreter.

    python -m benchmarks.engine_process '{"vllm": true, "capacity": 16, "ttft": 0.05, "inter_token": 0.01}' WORDS

Prints the URL on its first line and serves until its stdin closes.
"""

from __future__ import annotations

import json
import sys

from engine.simulator import SimulatedEngine, SimulatorConfig


def main(config_json: str, words: int) -> None:
    text = " ".join(f"w{i}" for i in range(words))
    config = SimulatorConfig(**json.loads(config_json), answer=lambda _messages: text)
    with SimulatedEngine(config) as engine:
        print(engine.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
