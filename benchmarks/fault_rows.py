"""The eight faults. Each gets a fresh database and an empty Redis, starts what it needs (`topology`),
sends its stream and injects the fault; `benchmarks.faults` then watches and counts.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.fault_services import Group
from benchmarks.fault_traffic import CHANNEL, USER, Sent, slack_key
from benchmarks.fault_trial import Trial
from benchmarks.harness import ROOT
from bots.slack.ref import ReplyMode, SlackRef
from tests.fixtures.fake_slack import TEAM
from workers.events import Event, Platform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fault:
    run: Callable[[Trial], None]
    # "run": one `llmos run`; "split": `llmos worker` beside `llmos slack` and `llmos admin`.
    topology: str = "run"
    settings: dict[str, object] = field(default_factory=dict)
    # The engine row is timed from the engine's return, against its own target.
    engine_target: bool = False


def _kill_mid_answer(t: Trial, restart: Callable[[], Group]) -> None:
    stream = t.stream(t.per_fault)
    t.wait_streaming(at_least=2)
    t.mark_fault()
    assert t.main is not None
    t.main.kill()
    t.main = restart()
    stream.join()


def worker_kill(t: Trial) -> None:
    """SIGKILL of `llmos worker` (its whole group) while answers stream; a new worker starts at once."""
    _kill_mid_answer(t, t.deploy.worker)


def slack_event(tag: str, ts: str) -> Event:
    """The event the Slack surface builds for a mention in CHANNEL (see bots/slack/messages.py)."""
    ref = SlackRef(mode=ReplyMode.THREAD, team=TEAM, channel=CHANNEL, user=USER, thread_ts=ts)
    return Event(
        platform=Platform.SLACK,
        tenant=TEAM,
        channel=CHANNEL,
        thread=ts,
        user=USER,
        message_id=f"{CHANNEL}:{ts}",
        text=f"question {tag}",
        user_name="alice",
        ref=ref.to_dict(),
    )


def intake_kill(t: Trial) -> None:
    """The real intake commits, then its process dies before the enqueue; Slack, with no 200, retries."""
    stream = t.stream(t.per_fault)
    killed = max(1, t.per_fault // 2)
    messages = [t.slack.message(f"{t.name}-k{i}") for i in range(killed)]
    lines = "".join(
        json.dumps(slack_event(f"{t.name}-k{i}", ts).to_dict()) + "\n" for i, (ts, _) in enumerate(messages)
    )
    t.mark_fault()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fault_intake", t.deploy.database_url],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=t.deploy.env(),
        timeout=120,
        check=False,
    )
    exits = [json.loads(line)["exit"] for line in done.stdout.splitlines() if line.startswith("{")]
    t.notes["intake_exits"] = exits
    if done.returncode != 0 or len(exits) != killed:
        raise RuntimeError(f"the intake subprocess failed: {done.stderr[-1000:]}")
    for index, (ts, event) in enumerate(messages):
        sent = Sent(key=slack_key(ts), surface="slack", tag=f"{t.name}-k{index}", sent_at=t.fault_at or 0.0, ts=ts)
        t.sent.append(sent)
        threading.Thread(target=t.slack.retry, args=(sent, event), daemon=True).start()
    stream.join()


def run_kill(t: Trial) -> None:
    """`kill -9` of the whole `llmos run` process group while answers stream, then `llmos run` again."""
    _kill_mid_answer(t, t.deploy.run)


def redis_empty(t: Trial) -> None:
    """A burst bigger than the engine slots (some waiting, some admitted and running), then Redis
    stopped and started again empty on the same port."""
    stream = t.stream(t.per_fault, every=0.05)
    stream.join()
    t.wait_streaming(at_least=1)
    time.sleep(0.3)
    t.mark_fault()
    t.notes["redis_keys_lost"] = t.redis.keys()
    t.redis.restart_empty()


def pg_restart(t: Trial) -> None:
    """`pg_ctl restart -m fast` of the private cluster while answers stream."""
    stream = t.stream(t.per_fault)
    t.wait_streaming(at_least=2)
    t.mark_fault()
    t.pg.restart()
    t.notes["pg_restart_s"] = round(time.monotonic() - t.fault_at if t.fault_at else 0.0, 1)
    stream.join()


def engine_down(t: Trial) -> None:
    """The engine refuses connections for `engine_down` seconds (streams cut), messages keep coming,
    then it is back on the same port; recovery is timed from its return."""
    first = t.per_fault // 2
    t.stream(first).join()
    t.wait_streaming(at_least=1)
    t.mark_fault()
    t.engine.stop()
    t.stream(t.per_fault - first, every=1.0, start=first).join()
    time.sleep(max(0.0, (t.fault_at or 0.0) + t.engine_down - time.monotonic()))
    t.engine.start()
    t.recover_from = time.monotonic()


def poison(t: Trial) -> None:
    """One question kills its worker whenever it reaches the engine; a supervisor restarts the worker.
    The poison event is watched apart from the count: it should end `failed`, its user told once."""
    kills: list[float] = []
    stop = threading.Event()

    def kill_worker() -> None:
        # Whichever worker asked: a restarted one takes work before its first ping is answered, so
        # before the supervisor below has it as `t.main`.
        live = [group for group in t.deploy.groups if "worker" in group.args and group.alive()]
        if live:
            kills.append(time.monotonic())
            if t.fault_at is None:
                t.mark_fault()
        for group in live:
            os.killpg(group.pid, signal.SIGKILL)

    def supervise() -> None:
        while not stop.is_set():
            if t.main is not None and not t.main.alive():
                t.main.stop()
                try:
                    t.main = t.deploy.worker()
                except RuntimeError:
                    log.info("the restarted worker died before its first ping; starting another")
            stop.wait(0.2)

    t.engine.on_poison = kill_worker
    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    t.extra.append(t.slack.mention(f"{t.name}-POISONPILL"))
    t.stream(t.per_fault, every=0.4).join()
    if t.fault_at is None:  # the poison never reached the engine: time from the end of the stream
        t.mark_fault()
    t.settle()
    stop.set()
    supervisor.join(timeout=120)
    t.notes["worker_kills"] = len(kills)


def slack_retries(t: Trial) -> None:
    """Every Slack event delivered 3 more times with X-Slack-Retry-Num 1..3 (web lines once)."""
    t.mark_fault()
    t.stream(t.per_fault, slack_retries=3).join()


FAULTS: dict[str, Fault] = {
    "worker_kill": Fault(worker_kill, topology="split"),
    "intake_kill": Fault(intake_kill),
    "run_kill": Fault(run_kill),
    "redis_empty": Fault(redis_empty, settings={"SCHED_ENGINE_SLOTS": 2}),
    "pg_restart": Fault(pg_restart),
    "engine_down": Fault(engine_down, engine_target=True),
    "poison": Fault(poison, topology="split"),
    "slack_retries": Fault(slack_retries),
}
