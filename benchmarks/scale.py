"""Scale-out: 1 and 2 `llmos worker` processes against 1 and 2 engine replicas, engine-bound.

Each replica is the engine simulator in its own process with a fixed service rate (CAPACITY sequences at
once, each TTFT + WORDS * INTER_TOKEN seconds), so adding a replica adds exactly its capacity to the
engine; LLMOS routes with ENGINE_ENDPOINTS (a conversation stays on one replica) and admits
SCHED_ENGINE_SLOTS = replicas * CAPACITY. Closed loop: CONVERSATIONS people each ask, wait for the
answer, and ask again in the same conversation. For each combination it prints throughput, the p95 wait
(submit to first word) and the prefix-affinity hit rate (share of prompt tokens the serving replica had
already seen: the replica's prefix cache, counted by the simulator as vLLM counts it). Target: 2
replicas give at least 1.8 times the throughput of one.

    .venv/bin/python -m benchmarks.scale [--requests 160] [--redis redis://127.0.0.1:6379/9]
        [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.client import Timing, ask, clear_tables, make_event
from benchmarks.harness import base_env, engine_process, llmos_worker, pct, purge, scratch_database
from benchmarks.scheduler_runs import _closed_loop
from engine import vllm_metrics
from workers.scheduler.settings import load_scheduler_settings
from workers.settings import load_settings
from workers.stack import Stack

CAPACITY = 4
TTFT = 0.05
INTER_TOKEN = 0.05
WORDS = 20
MODEL = "sim-model"
RESULTS = Path(__file__).resolve().parent / "results"


def combination(
    home: Path, database_url: str, redis_url: str, *, workers: int, replicas: int, requests: int
) -> dict[str, Any]:
    slots = replicas * CAPACITY
    conversations = 2 * slots  # twice what the engine can take: it is always full
    with ExitStack() as resources:
        engine = {"vllm": True, "capacity": CAPACITY, "ttft": TTFT, "inter_token": INTER_TOKEN}
        urls = [resources.enter_context(engine_process(home, words=WORDS, **engine)) for _ in range(replicas)]
        env = base_env(
            home,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            ENGINE_ENDPOINTS=f"{MODEL}={','.join(urls)}",
            WORKER_CONCURRENCY=slots,
            SCHED_INTERACTIVE_WORKERS=0,
            SCHED_ENGINE_SLOTS=slots,
            SCHED_USER_REQUESTS_PER_MINUTE=1_000_000,
        )
        purge(redis_url)
        settings = load_settings(
            _env_file=None, llmos_home=home, database_url=database_url, redis_url=redis_url, redis_autodetect=False
        )
        scheduling = load_scheduler_settings(_env_file=None, user_requests_per_minute=1_000_000, engine_slots=slots)
        client = resources.enter_context(Stack(settings, scheduling=scheduling))
        clear_tables(client)
        for _ in range(workers):
            resources.enter_context(llmos_worker(env, home, interactive=0))
        for index in range(slots):  # every worker thread and connection warm
            ask(client, make_event(f"warm {index}", user=f"warm{index}"))
        before = [vllm_metrics.read(url) for url in urls]
        timings: list[Timing] = []

        def one(index: int) -> bool:
            person = f"p{index % conversations}"
            timing = ask(client, make_event(f"question {index}", user=person, thread=f"chat-{person}"))
            timings.append(timing)
            return not timing.error

        seconds, failures = _closed_loop(requests, conversations, one)
        changes = [vllm_metrics.delta(b, vllm_metrics.read(url)) for b, url in zip(before, urls, strict=True)]
        clear_tables(client)
    queries = sum(c.get(vllm_metrics.PREFIX_QUERIES, 0.0) for c in changes)
    hits = sum(c.get(vllm_metrics.PREFIX_HITS, 0.0) for c in changes)
    return {
        "workers": workers,
        "replicas": replicas,
        "throughput_rps": round((requests - failures) / seconds, 2),
        "wait_p95_s": round(pct([t.wait for t in timings if not t.error], 95), 3),
        "prefix_hit_rate": round(hits / queries, 3) if queries else 0.0,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="llmos-scale-") as tmp, scratch_database(args.pg) as database_url:
        for workers in (1, 2):
            for replicas in (1, 2):
                print(f"running: {workers} worker(s), {replicas} replica(s) ...", flush=True)
                rows.append(
                    combination(
                        Path(tmp), database_url, args.redis, workers=workers, replicas=replicas, requests=args.requests
                    )
                )
    per_replica = CAPACITY / (TTFT + WORDS * INTER_TOKEN)
    print(
        f"\nengine: {CAPACITY} sequences per replica, {TTFT + WORDS * INTER_TOKEN:.2f} s each "
        f"(at most {per_replica:.1f} answers/s per replica)"
    )
    print("workers | replicas | answers/s | wait p95 s | prefix hit rate | failures")
    for row in rows:
        print(
            f"{row['workers']:>7} | {row['replicas']:>8} | {row['throughput_rps']:>9} | {row['wait_p95_s']:>10} | "
            f"{row['prefix_hit_rate']:>15} | {row['failures']:>8}"
        )
    for workers in (1, 2):
        one, two = (next(r for r in rows if r["workers"] == workers and r["replicas"] == n) for n in (1, 2))
        ratio = two["throughput_rps"] / one["throughput_rps"] if one["throughput_rps"] else 0.0
        verdict = "met" if ratio >= 1.8 else "NOT met"
        print(f"{workers} worker(s): 2 replicas give {ratio:.2f}x one (target >= 1.8x: {verdict})")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
