"""Time from `llmos chat "question"` to the first answer byte and to the full answer, with the real model.

Two ways a person meets it: `cold` (no LLMOS running: the command brings up its own worker and the
embedded engine) and `warm` (an `llmos run` is up with Redis; the command only enqueues and streams).

    .venv/bin/python -m benchmarks.chat_latency [--runs 5] [--redis redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "What is the capital of France?"


def timed_chat(env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "chat", QUESTION],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    first = process.stdout.read(1)
    first_at = time.perf_counter() - started
    rest = process.stdout.read()
    process.wait()
    return first_at, time.perf_counter() - started, (first + rest).decode(errors="replace").strip()


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "DATABASE_", "REDIS_"))}
    env.update({"LLMOS_HOME": str(home), "LOG_LEVEL": "WARNING", "REDIS_AUTODETECT": "false"})
    return env


def start_run(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    run = subprocess.Popen(
        [sys.executable, "-u", "-m", "bots.cli", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert run.stdout is not None
    for line in run.stdout:
        if "llmos chat" in line:
            return run
    raise RuntimeError("llmos run did not start")


def summarize(name: str, samples: list[tuple[float, float, str]]) -> dict[str, object]:
    firsts = [s[0] for s in samples]
    totals = [s[1] for s in samples]
    return {
        "mode": name,
        "runs": len(samples),
        "first_byte_p50_s": round(statistics.median(firsts), 3),
        "first_byte_max_s": round(max(firsts), 3),
        "full_answer_p50_s": round(statistics.median(totals), 3),
        "full_answer_max_s": round(max(totals), 3),
        "answer": samples[-1][2],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        cold_env = base_env(home / "cold")
        rows.append(summarize("cold", [timed_chat(cold_env, home) for _ in range(args.runs)]))
        warm_env = {**base_env(home / "warm"), "REDIS_URL": args.redis, "REDIS_KEY_PREFIX": "bench-chat:"}
        run = start_run(warm_env, home)
        try:
            timed_chat(warm_env, home)  # first request warms the engine's caches
            rows.append(summarize("warm", [timed_chat(warm_env, home) for _ in range(args.runs)]))
        finally:
            run.terminate()
            run.wait(30)
    print(f"{'mode':<6} {'runs':>4} {'first byte p50':>15} {'max':>7} {'full answer p50':>16} {'max':>7}")
    for row in rows:
        print(
            f"{row['mode']:<6} {row['runs']:>4} {row['first_byte_p50_s']:>14}s {row['first_byte_max_s']:>6}s "
            f"{row['full_answer_p50_s']:>15}s {row['full_answer_max_s']:>6}s"
        )
    print(f"answer: {rows[-1]['answer']}")
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "chat_latency.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
