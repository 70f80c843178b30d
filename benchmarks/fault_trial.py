"""One row of the fault matrix while it runs: the deployment, the people sending, and the moment of the fault.

`settle` watches the platforms until every acknowledged message is answered (or the recovery window
ends), then `result` counts from the platforms and the SQL ledger.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from benchmarks.fault_deploy import Deployment, Ledger, read_ledger
from benchmarks.fault_engine import FaultEngine
from benchmarks.fault_services import Group, PrivatePostgres, PrivateRedis
from benchmarks.fault_traffic import Sent, SlackPeople, WebPeople

# After the last answer, how long to keep watching for a second copy of any of them.
GRACE = 3.0


@dataclass
class Result:
    fault: str
    sent: int
    answered: int
    lost: int
    duplicated: int
    recover_s: float | None
    target_s: float
    unacked: int = 0
    stored: int = 0
    states: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and self.recover_s is not None and self.recover_s <= self.target_s


@dataclass
class Trial:
    name: str
    deploy: Deployment
    engine: FaultEngine
    slack: SlackPeople
    web: WebPeople
    redis: PrivateRedis
    pg: PrivatePostgres
    per_fault: int
    recover: float
    target: float
    engine_down: float = 60.0
    # The process the fault hits: `llmos run`, or the `llmos worker` beside the surfaces.
    main: Group | None = None
    fault_at: float | None = None
    # Recovery is timed from here: the fault, or the engine's return.
    recover_from: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    settled: bool = False
    # Messages that are not part of the count (the poison event), watched all the same.
    extra: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(32))

    def send(self, index: int, *, slack_retries: int = 0) -> Sent:
        """Message `index`: even ones are Slack mentions, odd ones web chat lines."""
        tag = f"{self.name}-{index}".replace("_", "-")  # a web chat thread id: letters, digits, dashes
        sent = self.slack.mention(tag, extra_retries=slack_retries) if index % 2 == 0 else self.web.ask(tag)
        with self._lock:
            self.sent.append(sent)
        return sent

    def stream(self, count: int, *, every: float = 0.25, start: int = 0, slack_retries: int = 0) -> threading.Thread:
        """Send `count` messages `every` seconds apart in the background (open loop)."""

        def run() -> None:
            began = time.monotonic()
            for offset in range(count):
                time.sleep(max(0.0, began + offset * every - time.monotonic()))
                self._pool.submit(self.send, start + offset, slack_retries=slack_retries)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def wait_streaming(self, *, at_least: int = 1, timeout: float = 30.0) -> None:
        """Until answers are streaming at the engine (so the fault lands mid-answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.engine.in_flight() < at_least:
            time.sleep(0.02)

    def mark_fault(self) -> float:
        self.fault_at = time.monotonic()
        self.recover_from = self.recover_from or self.fault_at
        return self.fault_at

    # -- watching and counting -------------------------------------------------------------

    def _observe(self) -> None:
        for sent in [*self.sent, *self.extra]:
            if sent.surface == "slack":
                self.slack.observe(sent)

    def settle(self) -> None:
        if self.settled:
            return
        self.settled = True
        self._pool.shutdown(wait=True)  # every send has returned (web posts may retry for a while)
        started = self.recover_from or time.monotonic()
        last_sent = max((s.sent_at for s in self.sent), default=started)
        deadline = max(started, last_sent) + self.recover
        while time.monotonic() < deadline:
            self._observe()
            if all(s.outcome for s in self.sent):
                break
            time.sleep(0.2)
        time.sleep(GRACE)
        self._observe()

    def result(self) -> Result:
        keys = [s.key for s in [*self.sent, *self.extra] if s.key]
        ledger = read_ledger(self.deploy.database_url, keys)
        for extra in self.extra:
            self.notes[extra.tag] = {
                "status": ledger.status.get(extra.key),
                "attempts": ledger.attempts.get(extra.key),
                "answers": extra.answers,
                "told": extra.told,
            }
        reference = self.recover_from or self.fault_at or 0.0
        return count(self.name, self.sent, ledger, reference=reference, target=self.target, notes=self.notes)


def count(
    name: str, sent: list[Sent], ledger: Ledger, *, reference: float, target: float, notes: dict[str, Any]
) -> Result:
    """One row from what the platforms showed (`sent`) and what SQL holds (`ledger`).

    A message counts as sent once LLMOS acknowledged it or committed it; `reference` is when the
    fault (or the engine's return) happened, and recovery is timed from it to the last answer of a
    message that was still unanswered then.
    """
    counted = [s for s in sent if s.acked or s.key in ledger.status]
    answered = [s for s in counted if s.answered_at is not None]
    duplicated = [s for s in counted if s.answers > 1 or ledger.assistant.get(s.key, 0) > 1]
    affected = [s for s in counted if s.answered_at is None or s.answered_at > reference]
    recover = None
    if len(answered) == len(counted):
        recover = round(max([s.answered_at or reference for s in affected] + [reference]) - reference, 1)
    told = {s.key: s.told for s in counted if s.told}
    # Where each lost message stopped: its state in SQL, or not there at all (acknowledged, never stored).
    lost = {f"{s.surface} {s.key}": ledger.status.get(s.key, "not in SQL") for s in counted if s.answered_at is None}
    return Result(
        fault=name,
        sent=len(counted),
        answered=len(answered),
        lost=len(counted) - len(answered),
        duplicated=len(duplicated),
        recover_s=recover,
        target_s=target,
        unacked=len(sent) - len(counted),
        stored=sum(1 for s in counted if ledger.assistant.get(s.key)),
        states=ledger.states(),
        notes={
            **notes,
            "affected": len(affected),
            **({"told": told} if told else {}),
            **({"lost": lost} if lost else {}),
        },
    )
