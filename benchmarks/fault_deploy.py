"""LLMOS as an operator runs it for the fault matrix: `llmos run`, or `llmos worker` beside `llmos slack`
and `llmos admin`, on the private PostgreSQL and Redis, with the fault engine; and the SQL ledger read
back (assistant messages per event key, `processed_events` states).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from benchmarks.fault_services import Group, free_port, listening, wait_until
from benchmarks.harness import ROOT, base_env, control_app
from db.models import Message, ProcessedEvent
from db.session import make_engine
from tests.fixtures.fake_slack import BOT_TOKEN
from tests.fixtures.slack_wire import SIGNING_SECRET

log = logging.getLogger(__name__)

# Settings the ledger work introduces: passed on every run so merged main uses them; ignored before.
LEDGER_SETTINGS = {"EVENT_MAX_ATTEMPTS": 3, "ENGINE_RESEND_WITHIN": 600, "RECONCILE_INTERVAL": 2}
STRIPPED = ("SLACK_", "ADMIN_", "DISCORD_", "WORKER_", "EVENT_", "BROKER_", "LLMOS_")


@dataclass
class Deployment:
    home: Path
    database_url: str
    redis_url: str
    engine_url: str
    slack_api_url: str
    settings: dict[str, object] = field(default_factory=dict)
    slack_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    groups: list[Group] = field(default_factory=list)

    @property
    def slack_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.slack_port}/slack/events"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def env(self) -> dict[str, str]:
        ours: dict[str, object] = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ENGINE_URL": self.engine_url,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": self.slack_api_url,
            "SLACK_HOST": "127.0.0.1",
            "SLACK_PORT": self.slack_port,
            "ADMIN_HOST": "127.0.0.1",
            "ADMIN_PORT": self.admin_port,
            "WORKER_CONCURRENCY": 4,
            "SCHED_USER_REQUESTS_PER_MINUTE": 1_000_000,
            # The simulator batches 64; admission is then bounded by the worker threads, as with vLLM.
            "SCHED_ENGINE_SLOTS": 8,
            **LEDGER_SETTINGS,
            **self.settings,
        }
        env = base_env(self.home, **ours)
        # Nothing of the caller's own LLMOS configuration leaks into the processes under test.
        for name in [n for n in env if n.startswith(STRIPPED) and n not in ours and n != "LLMOS_HOME"]:
            del env[name]
        env["PYTHONPATH"] = str(ROOT)
        return env

    def _start(self, name: str, *args: str) -> Group:
        group = Group(["-m", "bots.cli", *args], env=self.env(), log=self.home / f"{name}.log", cwd=self.home)
        self.groups.append(group)
        return group

    def run(self) -> Group:
        """`llmos run`: every surface, the scheduler and an in-process worker in one process group."""
        group = self._start("run", "run")
        self.wait_serving(group, slack=True, admin=True)
        return group

    def worker(self) -> Group:
        """`llmos worker` in its own process group, once it answers a Celery ping."""
        name = f"faults-{uuid.uuid4().hex[:6]}@localhost"
        group = self._start(name, "worker", "--hostname", name)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if not group.alive():
                raise RuntimeError(f"llmos worker exited; see {group.log}")
            if self._answers_ping(name):
                return group
        raise RuntimeError(f"llmos worker {name} did not answer a ping; see {group.log}")

    def _answers_ping(self, name: str) -> bool:
        app = control_app(self.env())
        try:
            return any(name in reply for reply in app.control.ping(destination=[name], timeout=1.0) or [])
        except (OSError, RedisError, KombuError) as exc:  # the broker cut a control connection: ask again
            log.info("ping of %s failed: %s", name, exc)
            time.sleep(0.5)
            return False
        finally:
            app.close()

    def surfaces(self) -> list[Group]:
        """`llmos slack` and `llmos admin` beside a worker that already answers (so neither starts its own)."""
        slack, admin = self._start("slack", "slack"), self._start("admin", "admin")
        self.wait_serving(slack, slack=True)
        self.wait_serving(admin, admin=True)
        return [slack, admin]

    def wait_serving(self, group: Group, *, slack: bool = False, admin: bool = False, timeout: float = 120) -> None:
        """Until the Slack endpoint listens and the admin service answers /healthz (those asked for)."""

        def ready() -> bool:
            if not group.alive():
                raise RuntimeError(f"{group.args} exited; see {group.log}")
            if slack and not listening(self.slack_port):
                return False
            if admin:
                try:
                    return httpx.get(f"{self.admin_url}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False
            return True

        wait_until(ready, timeout=timeout, what=" ".join(group.args), every=0.25)

    def stop(self) -> None:
        for group in reversed(self.groups):
            group.stop()
        self.groups.clear()


@dataclass(frozen=True)
class Ledger:
    """What SQL holds for a set of event keys."""

    assistant: dict[str, int]
    status: dict[str, str]
    attempts: dict[str, int]

    def states(self) -> dict[str, int]:
        return dict(Counter(self.status.values()))


def read_ledger(database_url: str, keys: list[str], *, tries: int = 20) -> Ledger:
    """Assistant messages and event states per key; retried while the database restarts."""
    engine = make_engine(database_url)
    try:
        for attempt in range(tries):
            try:
                with engine.connect() as conn:
                    counted = conn.execute(
                        select(Message.event_key, func.count())
                        .where(Message.role == "assistant", Message.event_key.in_(keys))
                        .group_by(Message.event_key)
                    ).all()
                    rows = conn.execute(
                        select(ProcessedEvent.key, ProcessedEvent.status, ProcessedEvent.attempts).where(
                            ProcessedEvent.key.in_(keys)
                        )
                    ).all()
                return Ledger(
                    assistant={k: int(n) for k, n in counted},
                    status={k: str(s) for k, s, _ in rows},
                    attempts={k: int(a) for k, _, a in rows},
                )
            except SQLAlchemyError:
                if attempt == tries - 1:
                    raise
                time.sleep(1.0)
        raise AssertionError("unreachable")
    finally:
        engine.dispose()
