"""A person's wait behind a batch flood on the embedded engine: the reserved slot, measured.

The embedded SmolLM2 (xllamacpp, EMBEDDED_PARALLEL slots) behind the in-process stack as `llmos run`
builds it (the scheduler admits exactly the engine's slots and keeps SCHED_RESERVED_SLOTS for
interactive work). First the time to the first word of a short question alone, then the same with
FLOOD batch translations queued just before it. Target: loaded within 2x unloaded.

    .venv/bin/python -m benchmarks.embedded_reserve [--runs 5] [--flood 24]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.client import BATCH, ask, make_event, send
from workers.scheduler.settings import embedded_slots, load_scheduler_settings
from workers.settings import load_settings
from workers.stack import Stack

TRANSLATE = "Translate into French: The meeting moved to Thursday because the room was booked."


def first_word(stack: Stack, text: str, user: str) -> float:
    timing = ask(stack, make_event(text, user=user))
    if timing.error or timing.first is None:
        raise RuntimeError(f"no answer: {timing.error}")
    return timing.first - timing.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--flood", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmos-reserve-") as tmp:
        settings = load_settings(
            _env_file=None, llmos_home=Path(tmp), redis_autodetect=False, answer_max_tokens=48, worker_concurrency=4
        )
        scheduling = embedded_slots(
            settings, load_scheduler_settings(_env_file=None, user_requests_per_minute=None), given=None
        )
        with Stack(settings, scheduling=scheduling) as stack:
            stack.start_worker()
            print("\n".join(stack.describe()))
            first_word(stack, "Say hello.", "warm")
            alone = [first_word(stack, f"Name a colour. ({n})", f"q{n}") for n in range(args.runs)]
            loaded = []
            for run in range(args.runs):
                for index in range(args.flood):
                    send(stack, make_event(f"{TRANSLATE} ({run}.{index})", user=f"b{index}", priority=BATCH))
                time.sleep(0.5)  # the flood is running when the person asks
                loaded.append(first_word(stack, f"Name a fruit. ({run})", f"p{run}"))
    unloaded, behind = statistics.median(alone), statistics.median(loaded)
    print(f"first word alone: median {unloaded:.2f} s {[round(x, 2) for x in alone]}")
    print(f"first word behind {args.flood} batch translations: median {behind:.2f} s {[round(x, 2) for x in loaded]}")
    print(f"ratio {behind / unloaded:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
