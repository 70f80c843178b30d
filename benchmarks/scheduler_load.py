"""Load measurements: interactive waits under a batch flood, tenant shares, the real model, memory."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from benchmarks.client import BATCH, Timing, ask, fifo_enqueue, make_event, paced, send
from benchmarks.harness import Process, engine_process, pct, rss_mb, summary
from benchmarks.scheduler_runs import Bench
from db.models import ProcessedEvent, Tenant, Usage
from workers.intake import Enqueue
from workers.stack import Stack


def _probes(stack: Stack, count: int, every: float, enqueue: Enqueue | None) -> list[Timing]:
    """Interactive questions at fixed intervals, each followed in its own thread."""
    futures: list[Future[Timing]] = []
    with ThreadPoolExecutor(count) as pool:

        def one(index: int) -> None:
            futures.append(pool.submit(ask, stack, make_event(f"probe {index}", user=f"p{index}"), enqueue=enqueue))

        paced(count, every, one)
        return [future.result() for future in futures]


def _flood(stack: Stack, count: int, enqueue: Enqueue | None) -> threading.Thread:
    def run() -> None:
        for index in range(count):
            send(stack, make_event(f"batch job {index}", user=f"job{index}", priority=BATCH), enqueue=enqueue)

    thread = threading.Thread(target=run, name="flood", daemon=True)
    thread.start()
    return thread


def interactive_wait(
    bench: Bench, *, probes: int = 100, every: float = 0.25, flood: int = 700, interactive: int = 3
) -> dict[str, Any]:
    """Submit to first answer word for a person, alone and behind a batch flood, LLMOS vs one FIFO queue.

    The flood is queued first (over 30 s of work even for 7 threads on one FIFO queue), then people ask: one
    every 0.25 s, each answer about 0.45 s, so about 1.8 are in flight at once (Erlangs); the worker keeps
    `interactive` threads (and as many engine slots) for them: that load plus room for its variation."""
    config = {"vllm": True, "capacity": 16, "ttft": 0.05, "inter_token": 0.01}
    out: dict[str, Any] = {
        "engine": "ttft 50 ms, 10 ms/token, 30 tokens, 16 at once",
        "flood": flood,
        "threads": f"LLMOS 4 + {interactive} interactive-only; FIFO {4 + interactive} on one queue",
    }
    for mode in ("llmos", "fifo"):
        with (
            engine_process(bench.home, words=30, **config) as url,
            bench.setup(url, fifo=mode == "fifo", interactive=interactive) as (stack, _),
        ):
            enqueue = fifo_enqueue(stack) if mode == "fifo" else None
            for index in range(5):
                ask(stack, make_event(f"warm {index}", user=f"w{index}"), enqueue=enqueue)
            alone = _probes(stack, probes, every, enqueue)
            _flood(stack, flood, enqueue).join()
            loaded = _probes(stack, probes, every, enqueue)
            steps = _steps(stack, [t.key for t in loaded])
        out[mode] = {
            "unloaded": summary([t.wait for t in alone if not t.error]),
            "flood": summary([t.wait for t in loaded if not t.error]),
            "errors": sum(bool(t.error) for t in alone + loaded),
            "flood_steps": steps,
        }
    unloaded, flooded = out["llmos"]["unloaded"]["p99_ms"], out["llmos"]["flood"]["p99_ms"]
    out["llmos_flood_over_unloaded_p99"] = round(flooded / unloaded, 2)
    return out


def _steps(stack: Stack, keys: list[str]) -> dict[str, Any]:
    """Where the time went, from the event's step timestamps: submit to a worker starting it, and from
    there to the first token (the worker's work before the engine request plus the engine's TTFT)."""
    with stack.sessions() as session:
        rows = session.execute(
            select(ProcessedEvent.received_at, ProcessedEvent.started_at, ProcessedEvent.first_token_at).where(
                ProcessedEvent.key.in_(keys)
            )
        ).all()
    queued = [s - r for r, s, _ in rows if s]
    working = [f - s for _, s, f in rows if s and f]
    return {"submit_to_worker_start": summary(queued), "worker_start_to_first_token": summary(working)}


def _fair_shares(capacity: float, demands: dict[str, float]) -> dict[str, float]:
    """Max-min fair split of `capacity` over `demands` (water filling)."""
    shares: dict[str, float] = {}
    left, open_ = capacity, dict(demands)
    while open_:
        even = left / len(open_)
        small = {k: d for k, d in open_.items() if d <= even}
        if not small:
            shares.update({k: even for k in open_})
            return shares
        for key, demand in small.items():
            shares[key] = demand
            left -= demand
            del open_[key]
    return shares


def _served_tokens(stack: Stack, *, until: float) -> dict[str, tuple[int, int]]:
    """Per tenant: engine tokens (prompt + answer) and requests of events finished before `until`."""
    with stack.sessions() as session:
        rows = session.execute(
            select(Tenant.external_id, func.sum(Usage.prompt_tokens + Usage.completion_tokens), func.count(Usage.id))
            .join(ProcessedEvent, ProcessedEvent.key == Usage.event_key)
            .join(Tenant, Tenant.id == Usage.tenant_id)
            .where(ProcessedEvent.finished_at <= until)
            .group_by(Tenant.external_id)
        ).all()
    return {tenant: (int(tokens or 0), int(count)) for tenant, tokens, count in rows}


def fairness(bench: Bench, *, seconds: float = 20.0, heavy_rate: float = 10.0, lights: int = 3) -> dict[str, Any]:
    """One tenant sends 10x what each of the others does into an engine that cannot keep up."""
    config = {"vllm": True, "capacity": 2, "ttft": 0.05, "inter_token": 0.01}
    plan = sorted(
        [(i / heavy_rate, "heavy") for i in range(int(seconds * heavy_rate))]
        + [(i + n / lights, f"light{n}") for n in range(lights) for i in range(int(seconds))]
    )
    out: dict[str, Any] = {"seconds": seconds, "engine": "2 at once, ~0.35 s per answer", "sent": {}}
    for tenant in {t for _, t in plan}:
        out["sent"][tenant] = sum(1 for _, t in plan if t == tenant)
    for mode in ("llmos", "fifo"):
        with engine_process(bench.home, words=30, **config) as url, bench.setup(url, fifo=mode == "fifo") as (stack, _):
            enqueue = fifo_enqueue(stack) if mode == "fifo" else None
            started = time.time()

            def one(index: int, stack: Stack = stack, enqueue: Enqueue | None = enqueue) -> None:
                tenant = plan[index][1]
                send(stack, make_event(f"request {index}", tenant=tenant, user=f"{tenant}-{index}"), enqueue=enqueue)

            start = time.monotonic()
            for index, (at, _tenant) in enumerate(plan):
                delay = start + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                one(index)
            time.sleep(max(0.0, start + seconds - time.monotonic()))
            served = _served_tokens(stack, until=started + seconds)
        tokens = {tenant: served.get(tenant, (0, 0))[0] for tenant in out["sent"]}
        count = sum(c for _, c in served.values()) or 1
        per_request = sum(tokens.values()) / count
        fair = _fair_shares(sum(tokens.values()), {t: n * per_request for t, n in out["sent"].items()})
        out[mode] = {
            "tokens": tokens,
            "share_of_fair": {t: round(tokens[t] / fair[t], 3) if fair[t] else None for t in tokens},
        }
        lights_share = [v for t, v in out[mode]["share_of_fair"].items() if t.startswith("light") and v is not None]
        out[mode]["min_light_share_of_fair"] = min(lights_share) if lights_share else None
    return out


def real_model(bench: Bench, *, questions: int = 5, flood: int = 6, probes: int = 3) -> dict[str, Any]:
    """The embedded SmolLM2 (llama.cpp, EMBEDDED_PARALLEL slots): a person's wait alone and behind batch jobs."""
    from engine.embedded import EmbeddedEngine

    with (
        EmbeddedEngine(context_window=2048, log_dir=bench.home) as engine,
        bench.setup(engine.url, ANSWER_MAX_TOKENS=48) as (stack, _),
    ):
        ask(stack, make_event("Say hello.", user="warm"))
        alone = [ask(stack, make_event(f"Name a colour. ({n})", user=f"q{n}")) for n in range(questions)]
        for index in range(flood):
            send(stack, make_event(f"Write a haiku about the sea. ({index})", user=f"b{index}", priority=BATCH))
        loaded = []
        for index in range(probes):
            time.sleep(1.0)
            loaded.append(ask(stack, make_event(f"Name a fruit. ({index})", user=f"p{index}")))
        with stack.sessions() as session:
            answered = session.scalars(select(Usage.completion_tokens)).all()
    spans = [t.done - t.first for t in alone if t.done and t.first]
    return {
        "engine": "SmolLM2-135M-Instruct Q4 on llama.cpp, CPU; 48 answer tokens at most",
        "unloaded_wait": summary([t.wait for t in alone if not t.error]),
        "unloaded_answer_s_p50": round(pct(spans, 50), 2) if spans else None,
        "behind_batch_wait": summary([t.wait for t in loaded if not t.error]),
        "answers": len(answered),
        "errors": sum(bool(t.error) for t in alone + loaded),
        "sample": next((t.key for t in alone), ""),
    }


def memory(bench: Bench, *, messages: int = 10_000, every: int = 500) -> dict[str, Any]:
    """RSS of `llmos worker` and of the terminal surface (`llmos chat`) over `messages` answered messages."""
    samples: list[dict[str, float]] = []
    with engine_process(bench.home, words=5, vllm=True) as url, bench.setup(url) as (_stack, worker):
        env = bench.env(url, threads=4, interactive=1)
        chat = Process(["-m", "bots.cli", "chat"], env=env, log=bench.home / "chat.log", stdin=True)
        assert chat.proc.stdin is not None and chat.proc.stdout is not None
        stdin, stdout = chat.proc.stdin, chat.proc.stdout

        def feed() -> None:
            for index in range(messages):
                stdin.write(f"message number {index}\n".encode())
            stdin.close()

        threading.Thread(target=feed, name="feed", daemon=True).start()
        answered = 0
        started = time.monotonic()
        for _line in stdout:
            answered += 1
            if answered % every == 0:
                samples.append({"messages": answered, "worker_mb": rss_mb(worker.pid), "chat_mb": rss_mb(chat.pid)})
            if answered >= messages:
                break
        elapsed = time.monotonic() - started
        chat.stop()
    half = next((s for s in samples if s["messages"] >= messages // 2), samples[0] if samples else None)
    last = samples[-1] if samples else None
    return {
        "messages": answered,
        "seconds": round(elapsed, 1),
        "samples": samples,
        "worker_max_mb": max((s["worker_mb"] for s in samples), default=None),
        "chat_max_mb": max((s["chat_mb"] for s in samples), default=None),
        "worker_growth_last_half_mb": round(last["worker_mb"] - half["worker_mb"], 1) if last and half else None,
        "chat_growth_last_half_mb": round(last["chat_mb"] - half["chat_mb"], 1) if last and half else None,
    }
