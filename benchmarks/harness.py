"""What the scheduler benchmark runs on: worker processes, a raw Celery worker, timing and memory helpers.

Every LLMOS process here is a real one (`llmos worker`, `llmos chat`) started as a subprocess with its
own environment, on the benchmark's PostgreSQL database and Redis db, so the numbers include the
process and broker hops a deployment has. The engine simulator runs in the benchmark process.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from celery import Celery

from workers.app import create_app
from workers.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def rss_mb(pid: int) -> float:
    """Resident memory of one process from /proc (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return math.nan


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"llmos_bench_sched_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{admin_url.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env(home: Path, **values: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "DATABASE_", "REDIS_", "SCHED_"))}
    env.update({"LLMOS_HOME": str(home), "LOG_LEVEL": "WARNING", "REDIS_AUTODETECT": "false"})
    env.update({k: str(v) for k, v in values.items()})
    return env


class Process:
    """A subprocess with its output in a log file under the benchmark's home."""

    def __init__(
        self, args: list[str], *, env: dict[str, str], log: Path, stdin: bool = False, cwd: Path | None = None
    ) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", *args],
            env=env,
            cwd=cwd or log.parent,
            stdout=subprocess.PIPE if stdin else self._out,
            stderr=self._out,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._out.close()


def control_app(env: dict[str, str]) -> Celery:
    settings = load_settings(_env_file=None, redis_url=env["REDIS_URL"], llmos_home=Path(env["LLMOS_HOME"]))
    return create_app(settings, broker_url=env["REDIS_URL"])


def wait_for_workers(env: dict[str, str], names: set[str], process: Process, timeout: float = 90.0) -> None:
    app = control_app(env)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {process.log}")
            replies = app.control.ping(destination=sorted(names), timeout=1.0) or []
            if names <= {host for reply in replies for host in reply}:
                return
        raise RuntimeError(f"workers {names} did not answer within {timeout:.0f}s; see {process.log}")
    finally:
        app.close()


@contextmanager
def llmos_worker(env: dict[str, str], home: Path, *, interactive: int) -> Iterator[Process]:
    """`llmos worker`: the general pool, plus `interactive` threads that serve only interactive work."""
    name = f"bench-{uuid.uuid4().hex[:6]}@localhost"
    proc = Process(["-m", "bots.cli", "worker", "--hostname", name], env=env, log=home / f"{name}.log")
    try:
        expected = {name} | ({f"interactive-{proc.pid}@localhost"} if interactive else set())
        wait_for_workers(env, expected, proc)
        yield proc
    finally:
        proc.stop()


@contextmanager
def noop_worker(env: dict[str, str], home: Path) -> Iterator[Process]:
    """A Celery worker with LLMOS's broker settings and one task that only answers on the reply bus."""
    name = f"noop-{uuid.uuid4().hex[:6]}@localhost"
    proc = Process(["-m", "benchmarks.noop_worker", name], env=env, log=home / f"{name}.log", cwd=ROOT)
    try:
        wait_for_workers(env, {name}, proc)
        yield proc
    finally:
        proc.stop()


@contextmanager
def engine_process(home: Path, *, words: int, **config: object) -> Iterator[str]:
    """The engine simulator in its own process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "benchmarks.engine_process", json.dumps(config), str(words)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(home / "engine.log").open("ab"),
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the engine simulator did not start; see {home / 'engine.log'}")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def purge(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": ms(pct(values, 50)), "p99_ms": ms(pct(values, 99))}
