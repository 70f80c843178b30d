"""The scheduler benchmark: LLMOS's overhead, throughput, priority, fairness and memory, side by side.

    .venv/bin/python -m benchmarks.scheduler [--only a,b,c,d,e,f] [--messages 10000]
        [--redis redis://127.0.0.1:6379/9] [--pg postgresql://postgres@127.0.0.1:5432/test]

Real PostgreSQL (a scratch database, dropped afterwards) and Redis (the given db is flushed), a real
`llmos worker` process (4 threads + 1 interactive-only), the engine simulator (`engine/simulator.py`)
and, for (e), the embedded SmolLM2. Prints a table and writes JSON to benchmarks/results/.
Not part of the test run: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import scratch_database
from benchmarks.scheduler_load import fairness, interactive_wait, memory, real_model
from benchmarks.scheduler_runs import Bench, overhead, throughput

RESULTS = Path(__file__).resolve().parent / "results"


def _yes(ok: bool) -> str:
    return "met" if ok else "NOT met"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measurement, LLMOS, baseline, target, verdict) for each result present."""
    out: list[tuple[str, str, str, str, str]] = []
    if a := r.get("a"):
        e, d, add = a["event_to_engine"], a["direct_call_to_engine"], a["added_event_to_engine_ms"]
        out.append(
            (
                "(a) event -> engine request, p50 / p99 ms",
                f"{e['p50_ms']} / {e['p99_ms']}",
                f"direct call {d['p50_ms']} / {d['p99_ms']}",
                "added <= 5 / <= 20",
                f"added {add['p50']} / {add['p99']}: {_yes(add['p50'] <= 5 and add['p99'] <= 20)}",
            )
        )
        s, ds, adds = a["last_token_to_sink"], a["direct_last_token_to_client"], a["added_last_token_to_sink_ms"]
        out.append(
            (
                "(a) last token -> reply sink, p50 / p99 ms",
                f"{s['p50_ms']} / {s['p99_ms']}",
                f"direct call {ds['p50_ms']} / {ds['p99_ms']}",
                "added <= 5 / <= 20",
                f"added {adds['p50']} / {adds['p99']}: {_yes(adds['p50'] <= 5 and adds['p99'] <= 20)}",
            )
        )
        plain = a["event_to_engine_without_scheduler"]
        out.append(
            (
                "(a) ... the same without the scheduler, p50 / p99 ms",
                f"{plain['p50_ms']} / {plain['p99_ms']}",
                "",
                "",
                "",
            )
        )
        done = a["last_token_to_stored_and_done"]
        out.append(
            ("(a) last token -> stored + done, p50 / p99 ms", f"{done['p50_ms']} / {done['p99_ms']}", "", "", "")
        )
    if b := r.get("b"):
        out.append(
            (
                "(b) round trips / s, zero-time engine",
                f"{b['llmos_per_s']}",
                f"raw Celery no-op {b['raw_celery_noop_per_s']}",
                ">= 0.5x",
                f"{b['ratio']}x: {_yes(b['ratio'] >= 0.5)}",
            )
        )
    if c := r.get("c"):
        for when in ("unloaded", "flood"):
            ll, ff = c["llmos"][when], c["fifo"][when]
            out.append(
                (
                    f"(c) interactive wait {when}, p50 / p99 ms",
                    f"{ll['p50_ms']} / {ll['p99_ms']}",
                    f"FIFO {ff['p50_ms']} / {ff['p99_ms']}",
                    "flood p99 <= 1.2x unloaded" if when == "flood" else "",
                    f"{c['llmos_flood_over_unloaded_p99']}x: {_yes(c['llmos_flood_over_unloaded_p99'] <= 1.2)}"
                    if when == "flood"
                    else "",
                )
            )
    if d := r.get("d"):
        ll, ff = d["llmos"]["min_light_share_of_fair"], d["fifo"]["min_light_share_of_fair"]
        out.append(
            (
                "(d) light tenant, min share of fair share",
                f"{ll:.0%}",
                f"FIFO {ff:.0%}",
                ">= 90%",
                _yes(ll is not None and ll >= 0.9),
            )
        )
    if e := r.get("e"):
        u, f = e["unloaded_wait"], e["behind_batch_wait"]
        out.append(
            (
                "(e) real model: wait alone / behind batch, p50 ms",
                f"{u['p50_ms']} / {f['p50_ms']}",
                f"first word -> full answer {e['unloaded_answer_s_p50']} s",
                "one run",
                "done" if not e["errors"] else f"{e['errors']} errors",
            )
        )
    if f := r.get("f"):
        ok_worker = (f["worker_max_mb"] or 1e9) <= 200 and (f["worker_growth_last_half_mb"] or 0) <= 1.0
        ok_chat = (f["chat_max_mb"] or 1e9) <= 150 and (f["chat_growth_last_half_mb"] or 0) <= 1.0
        out.append(
            (
                f"(f) RSS over {f['messages']} msgs: worker max / last-half growth",
                f"{f['worker_max_mb']} MB / {f['worker_growth_last_half_mb']:+} MB",
                "",
                "<= 200 MB, growth <= 1 MB",
                _yes(ok_worker),
            )
        )
        out.append(
            (
                "(f) RSS: terminal surface (llmos chat) max / growth",
                f"{f['chat_max_mb']} MB / {f['chat_growth_last_half_mb']:+} MB",
                "",
                "<= 150 MB, growth <= 1 MB",
                _yes(ok_chat),
            )
        )
    return out


def table(r: dict[str, Any]) -> str:
    header = ("measurement", "LLMOS", "baseline", "target", "result")
    body = rows(r)
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(5)]
    lines = [" | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)) for row in [header, *body]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="a,b,c,d,e,f")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    wanted = set(args.only.split(","))
    runs: dict[str, Callable[[Bench], dict[str, Any]]] = {
        "a": overhead,
        "b": throughput,
        "c": interactive_wait,
        "d": fairness,
        "e": real_model,
        "f": lambda bench: memory(bench, messages=args.messages),
    }
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="llmos-bench-") as tmp, scratch_database(args.pg) as database_url:
        bench = Bench(home=Path(tmp), database_url=database_url, redis_url=args.redis)
        for name, run in runs.items():
            if name in wanted:
                began = time.monotonic()
                print(f"running ({name}) ...", flush=True)
                results[name] = run(bench)
                results[name]["took_s"] = round(time.monotonic() - began, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scheduler-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
