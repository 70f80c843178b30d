"""The fault matrix: is every acknowledged message answered exactly once when a process, Redis,
PostgreSQL or the engine fails?

    .venv/bin/python -m benchmarks.faults [--only NAME,...] [--per-fault 12] [--recover 120]

Real `llmos` processes (`llmos run`, or `llmos worker` beside `llmos slack` and `llmos admin`) run on
a private redis-server and a throwaway PostgreSQL cluster, with the engine simulator (answers of
~1.5 s, so a fault lands mid-answer). Slack mentions (signed Events API requests, answered through a
fake Slack on localhost) and web chat lines (answers followed on the page's stream) come in a steady
stream; each fault is injected, and the row counts, from what the platforms received and from SQL:
sent, answered, lost, duplicated (a second whole answer at the platform, or a second stored
assistant message), and the time from the fault until the last affected message was answered.
Target: 0 lost, 0 duplicated, recovered within two lease periods (the engine: 10 s after its return).
Writes benchmarks/results/faults.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.fault_deploy import Deployment
from benchmarks.fault_engine import FaultEngine
from benchmarks.fault_rows import FAULTS, Fault
from benchmarks.fault_services import PrivatePostgres, PrivateRedis
from benchmarks.fault_traffic import SlackPeople, WebPeople
from benchmarks.fault_trial import Result, Trial
from tests.fixtures.fake_slack import FakeSlack
from workers.settings import Settings

log = logging.getLogger(__name__)

ENGINE_TARGET_S = 10.0
RESULTS = Path("benchmarks/results/faults.json")


def one_fault(
    name: str, fault: Fault, *, home: Path, redis: PrivateRedis, pg: PrivatePostgres, args: argparse.Namespace
) -> Result:
    """A fresh database and an empty Redis, the processes the fault needs, its stream, the count."""
    redis.flush()
    row_home = home / name
    row_home.mkdir()
    # The lease LLMOS runs with: --lease, else the code's own default (the processes get no other).
    lease = float(args.lease or Settings.model_fields["event_lease_seconds"].default)
    settings = {**fault.settings, **({"EVENT_LEASE_SECONDS": args.lease} if args.lease else {})}
    fake = FakeSlack().start()
    with FaultEngine(inter_token=args.inter_token) as engine:
        deploy = Deployment(
            home=row_home,
            database_url=pg.fresh_database(name),
            redis_url=redis.url,
            engine_url=engine.url,
            slack_api_url=fake.api_url,
            settings=settings,
        )
        trial: Trial | None = None
        try:
            if fault.topology == "split":
                main = deploy.worker()
                deploy.surfaces()
            else:
                main = deploy.run()
            trial = Trial(
                name=name,
                deploy=deploy,
                engine=engine,
                slack=SlackPeople(fake, deploy.slack_endpoint),
                web=WebPeople(deploy.admin_url),
                redis=redis,
                pg=pg,
                per_fault=args.per_fault,
                recover=args.recover,
                target=ENGINE_TARGET_S if fault.engine_target else 2 * lease,
                engine_down=args.engine_down,
                main=main,
            )
            fault.run(trial)
            trial.settle()
            return trial.result()
        finally:
            if trial is not None:
                trial.web.close()
                trial.slack.close()
            deploy.stop()
            fake.stop()


def cell(value: object) -> str:
    return "never" if value is None else str(value)


def print_table(results: list[Result], *, recover: float, out: Path) -> None:
    header = ("fault", "sent", "answered", "lost", "duplicated", "recover s", "target s", "ok")
    print(f"{header[0]:<15}" + "".join(f"{h:>11}" for h in header[1:]))
    for r in results:
        cells = (r.sent, r.answered, r.lost, r.duplicated, cell(r.recover_s), r.target_s, "yes" if r.ok else "NO")
        print(f"{r.fault:<15}" + "".join(f"{c!s:>11}" for c in cells))
    print(f"recover: fault -> last affected message answered ('never': some were not answered within {recover:.0f}s);")
    print("engine_down is timed from the engine's return. SQL states and notes per row: " + str(out))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help=f"comma-separated, from: {','.join(FAULTS)}")
    parser.add_argument("--per-fault", type=int, default=12, help="messages sent per fault")
    parser.add_argument("--recover", type=float, default=120.0, help="seconds to wait for recovery")
    parser.add_argument("--engine-down", type=float, default=60.0, help="seconds the engine is down")
    parser.add_argument("--inter-token", type=float, default=0.07, help="engine seconds between tokens")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--lease", type=float, default=None, help="EVENT_LEASE_SECONDS for LLMOS (default: its own)")
    args = parser.parse_args()
    unknown = [n for n in args.only.split(",") if n and n not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    return args


def trace_to(home: Path) -> None:
    """What the people saw (refused posts, broken streams, retries) goes to a log beside the processes'."""
    handler = logging.FileHandler(home / "benchmark.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    people = logging.getLogger("benchmarks")
    people.addHandler(handler)
    people.setLevel(logging.INFO)
    people.propagate = False  # the terminal gets the table


def run_rows(names: list[str], *, home: Path, args: argparse.Namespace) -> list[Result]:
    redis, pg = PrivateRedis(home), PrivatePostgres()
    results: list[Result] = []
    try:
        redis.start()
        pg.init().start()
        for name in names:
            started = time.monotonic()
            try:
                results.append(one_fault(name, FAULTS[name], home=home, redis=redis, pg=pg, args=args))
            except Exception as exc:  # one broken row must not cost the others their results
                log.exception("fault %s could not run", name)
                results.append(Result(name, 0, 0, 0, 0, None, 0.0, notes={"error": repr(exc)}))
            print(f"{name}: done in {time.monotonic() - started:.0f}s", flush=True)
    finally:
        redis.stop()
        pg.destroy()
    return results


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The engine simulator writing to a worker the fault killed is expected, not news.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    home = Path(tempfile.mkdtemp(prefix="llmos-faults-"))
    trace_to(home)
    results = run_rows([n for n in args.only.split(",") if n] or list(FAULTS), home=home, args=args)
    print_table(results, recover=args.recover, out=args.out)
    print(f"logs of every process: {home}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"settings": vars(args), "logs": str(home), "rows": [{**asdict(r), "ok": r.ok} for r in results]}
    args.out.write_text(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
