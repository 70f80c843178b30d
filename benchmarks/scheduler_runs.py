"""The six measurements of the scheduler benchmark; `benchmarks.scheduler` runs them and prints the table."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.client import Timing, ask, clear_tables, client_stack, fifo_enqueue, make_event
from benchmarks.harness import Process, base_env, engine_process, llmos_worker, ms, noop_worker, pct, purge, summary
from benchmarks.noop_worker import NOOP
from db.models import ProcessedEvent
from engine.base import ChatMessage, ChatRequest
from engine.openai_compat import OpenAICompatEngine
from engine.simulator import SimulatedEngine, SimulatorConfig
from workers.intake import Enqueue
from workers.queues import Queue
from workers.replybus import follow
from workers.stack import Stack


def words(n: int) -> Any:
    text = " ".join(f"w{i}" for i in range(n))
    return lambda _messages: text


@dataclass
class Bench:
    home: Path
    database_url: str
    redis_url: str

    def env(self, engine_url: str, *, threads: int, interactive: int, **more: object) -> dict[str, str]:
        return base_env(
            self.home,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            ENGINE_URL=engine_url,
            WORKER_CONCURRENCY=threads,
            SCHED_INTERACTIVE_WORKERS=interactive,
            SCHED_USER_REQUESTS_PER_MINUTE=1_000_000,
            **more,
        )

    @contextmanager
    def setup(
        self, engine_url: str, *, fifo: bool = False, interactive: int = 1, **more: object
    ) -> Iterator[tuple[Stack, Process]]:
        """A fresh broker and store, an `llmos worker` with 4 threads for any work plus `interactive` for
        interactive work only (FIFO: the same number of threads, all on one queue), and a client."""
        purge(self.redis_url)
        threads, interactive = (4 + interactive, 0) if fifo else (4, interactive)
        env = self.env(engine_url, threads=threads, interactive=interactive, **more)
        with client_stack(home=self.home, database_url=self.database_url, redis_url=self.redis_url) as stack:
            clear_tables(stack)
            with llmos_worker(env, self.home, interactive=interactive) as worker:
                yield stack, worker
            clear_tables(stack)


# -- (a) overhead -------------------------------------------------------------------------------


def _through_llmos(
    sim: SimulatedEngine, stack: Stack, *, runs: int, warmup: int, enqueue: Enqueue | None = None
) -> tuple[list[float], list[float], list[float], dict[str, Any]]:
    """One question at a time: (submit -> engine request, last token -> client, last token -> done, steps)."""
    to_engine, to_sink, to_done = [], [], []
    timings: list[Timing] = []
    for index in range(warmup + runs):
        sim.requests.clear()
        user = f"u{index % 10}"  # ten people, each in an ongoing conversation
        timing = ask(stack, make_event(f"question {index}", user=user, thread=f"chat-{user}"), enqueue=enqueue)
        record = sim.requests[-1]
        if index >= warmup and not timing.error and record.finished_at and timing.last_delta and timing.done:
            to_engine.append(record.arrived - timing.sent)
            to_sink.append(timing.last_delta - record.finished_at)
            to_done.append(timing.done - record.finished_at)
            timings.append(timing)
    return to_engine, to_sink, to_done, _steps(stack, timings)


def _steps(stack: Stack, timings: list[Timing]) -> dict[str, Any]:
    """Where event -> engine request goes: intake in the surface, the hop to a worker, the worker's work."""
    with stack.sessions() as session:
        started = dict(
            session.execute(
                select(ProcessedEvent.key, ProcessedEvent.started_at).where(
                    ProcessedEvent.key.in_([t.key for t in timings])
                )
            ).all()
        )
    intake = [(t.queued or t.sent) - t.sent for t in timings]
    to_worker = [started[t.key] - t.sent_wall for t in timings if started.get(t.key)]
    return {"intake": summary(intake), "submit_to_worker_claim": summary(to_worker)}


def _direct(sim: SimulatedEngine, *, runs: int, warmup: int) -> tuple[list[float], list[float]]:
    """The engine client alone: (call -> engine request, last token -> caller)."""
    to_engine, to_caller = [], []
    client = OpenAICompatEngine(url=sim.url)
    request = ChatRequest(messages=(ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", "hi")))
    client.server_info()
    for index in range(warmup + runs):
        sim.requests.clear()
        started = time.monotonic()
        last = started
        for chunk in client.stream(request):
            if chunk.text:
                last = time.monotonic()
        record = sim.requests[-1]
        if index >= warmup and record.finished_at:
            to_engine.append(record.arrived - started)
            to_caller.append(last - record.finished_at)
    client.close()
    return to_engine, to_caller


def overhead(bench: Bench, *, runs: int = 200, warmup: int = 20) -> dict[str, Any]:
    # Tokens 10 ms apart, as a served model streams them: the worker keeps pace, as it must in production.
    config = SimulatorConfig(vllm=True, inter_token=0.01, answer=words(20))
    with SimulatedEngine(config) as sim:
        with bench.setup(sim.url) as (stack, _):
            to_engine, to_sink, to_done, steps = _through_llmos(sim, stack, runs=runs, warmup=warmup)
            direct_engine, direct_sink = _direct(sim, runs=runs, warmup=warmup)
        # The same path with the scheduler taken out (straight into Celery, no limits): its own share.
        with bench.setup(sim.url, fifo=True) as (stack, _):
            plain_engine, _, _, _ = _through_llmos(sim, stack, runs=runs, warmup=warmup, enqueue=fifo_enqueue(stack))
    added_engine = {q: ms(pct(to_engine, q) - pct(direct_engine, q)) for q in (50, 99)}
    added_sink = {q: ms(pct(to_sink, q) - pct(direct_sink, q)) for q in (50, 99)}
    return {
        "event_to_engine": summary(to_engine),
        "direct_call_to_engine": summary(direct_engine),
        "added_event_to_engine_ms": {"p50": added_engine[50], "p99": added_engine[99]},
        "event_to_engine_without_scheduler": summary(plain_engine),
        "event_to_engine_steps": steps,
        "last_token_to_sink": summary(to_sink),
        "direct_last_token_to_client": summary(direct_sink),
        "added_last_token_to_sink_ms": {"p50": added_sink[50], "p99": added_sink[99]},
        "last_token_to_stored_and_done": summary(to_done),
    }


# -- (b) throughput -----------------------------------------------------------------------------


def _closed_loop(total: int, clients: int, one: Any) -> tuple[float, int]:
    """`clients` threads each run `one(i)` back to back until `total` are done; returns (seconds, failures)."""
    counter = iter(range(total))
    lock = threading.Lock()
    failures = 0

    def loop() -> None:
        nonlocal failures
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            if not one(index):
                with lock:
                    failures += 1

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(loop) for _ in range(clients)]:
            future.result()
    return time.monotonic() - started, failures


def throughput(bench: Bench, *, total: int = 600, clients: int = 16) -> dict[str, Any]:
    with engine_process(bench.home, words=3, vllm=True) as url, bench.setup(url) as (stack, _):
        for index in range(20):
            ask(stack, make_event(f"warm {index}", user=f"w{index}"))

        def one(index: int) -> bool:
            user = f"u{index % 64}"  # 64 people, each in an ongoing conversation
            return not ask(stack, make_event(f"q {index}", user=user, thread=f"chat-{user}")).error

        llmos_s, llmos_failed = _closed_loop(total, clients, one)
    purge(bench.redis_url)
    env = bench.env("http://127.0.0.1:9", threads=5, interactive=0)
    with (
        client_stack(home=bench.home, database_url=bench.database_url, redis_url=bench.redis_url) as stack,
        noop_worker(env, bench.home),
    ):

        def round_trip(_index: int) -> bool:
            stream = f"noop:{uuid.uuid4().hex}"
            stack.app.send_task(NOOP, args=[stream], queue=str(Queue.INTERACTIVE), priority=0)
            return any(item.get("type") == "done" for item in follow(stack.bus, stream, idle_timeout=60))

        for index in range(20):
            round_trip(index)
        raw_s, raw_failed = _closed_loop(total, clients, round_trip)
    llmos_rate, raw_rate = total / llmos_s, total / raw_s
    return {
        "messages": total,
        "client_threads": clients,
        "llmos_per_s": round(llmos_rate, 1),
        "raw_celery_noop_per_s": round(raw_rate, 1),
        "ratio": round(llmos_rate / raw_rate, 3),
        "failures": {"llmos": llmos_failed, "raw": raw_failed},
    }
