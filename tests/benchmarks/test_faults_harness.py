"""The fault matrix's building blocks, so the benchmark cannot rot unnoticed: private Redis and
PostgreSQL that restart as the faults need, the intake that dies after its commit, and the counting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from benchmarks.fault_deploy import Ledger, read_ledger
from benchmarks.fault_engine import END_MARK
from benchmarks.fault_intake import KILLED, submit_and_die
from benchmarks.fault_rows import slack_event
from benchmarks.fault_services import PrivatePostgres, PrivateRedis, free_port
from benchmarks.fault_traffic import CHANNEL, Sent, SlackPeople, slack_key
from benchmarks.fault_trial import count
from benchmarks.harness import ROOT
from db import migrate
from tests.fixtures.fake_slack import FakeSlack
from tests.fixtures.fake_slack_api import Message

pytestmark = pytest.mark.timeout(120)


def test_private_redis_restarts_empty_on_the_same_port(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path).start()
    try:
        server.client().set("waiting", "1")
        assert server.keys() == 1
        port = server.port
        server.restart_empty()
        assert (server.port, server.keys()) == (port, 0)
        assert server.client().ping()
    finally:
        server.stop()
    with pytest.raises(Exception):
        server.client().ping()


def test_private_postgres_restart_cuts_connections_and_comes_back() -> None:
    cluster = PrivatePostgres().init().start()
    try:
        url = cluster.fresh_database("t")
        engine = sqlalchemy.create_engine(url, pool_pre_ping=False)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE kept (v int)"))
            conn.execute(sqlalchemy.text("INSERT INTO kept VALUES (7)"))
        held = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
        cluster.restart()
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT v FROM kept")).scalar() == 7
        engine.dispose()
    finally:
        cluster.destroy()
    assert not cluster.root.exists()


def test_killed_intake_leaves_the_event_committed_and_pending(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'llmos.db'}"
    migrate.upgrade(url)
    event = slack_event("k0", "1700000000.000100")
    assert submit_and_die(url, event) == KILLED
    ledger = read_ledger(url, [event.key])
    assert ledger.status == {event.key: "pending"}
    assert ledger.assistant == {}
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sqlalchemy.text("SELECT role, content FROM messages")).all()
    engine.dispose()
    assert [tuple(row) for row in stored] == [("user", "question k0")]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def test_slack_answers_are_counted_from_the_fake_slack(fake: FakeSlack) -> None:
    people = SlackPeople(fake, f"http://127.0.0.1:{free_port()}/slack/events")  # nothing listens there
    ts, event = people.message("t1")
    sent = Sent(key=slack_key(ts), surface="slack", tag="t1", sent_at=time.monotonic(), ts=ts)
    assert not people.deliver(event)
    people.observe(sent)
    assert (sent.answers, sent.answered_at, sent.told) == (0, None, [])
    fake.messages.append(Message(CHANNEL, fake.next_ts(), markdown="half an answ", thread_ts=ts, streaming=True))
    fake.messages.append(Message(CHANNEL, fake.next_ts(), text="Sorry, the engine is down.", thread_ts=ts))
    people.observe(sent)
    assert (sent.answers, sent.answered_at, sent.told) == (0, None, ["Sorry, the engine is down."])
    for _ in range(2):
        fake.messages.append(Message(CHANNEL, fake.next_ts(), markdown=f"Answer w0 {END_MARK}", thread_ts=ts))
    people.observe(sent)
    assert sent.answers == 2 and sent.answered_at is not None
    people.close()


def sent(key: str, *, at: float | None, answers: int = 1, acked: bool = True) -> Sent:
    return Sent(key=key, surface="slack", tag=key, sent_at=0.0, acked=acked, answered_at=at, answers=answers)


def test_count_finds_lost_duplicated_and_recovery() -> None:
    messages = [
        sent("before", at=5.0),  # answered before the fault: not affected
        sent("during", at=14.5),
        sent("twice", at=12.0, answers=2),
        sent("stored twice", at=11.0),
        sent("never", at=None, answers=0),
        sent("unacked, unknown", at=None, answers=0, acked=False),
        sent("unacked, committed", at=13.0, acked=False),
    ]
    ledger = Ledger(
        assistant={"before": 1, "during": 1, "twice": 1, "stored twice": 2},
        status={m.key: "done" for m in messages if m.key != "unacked, unknown"},
        attempts={},
    )
    row = count("x", messages, ledger, reference=10.0, target=120.0, notes={})
    assert (row.sent, row.answered, row.lost, row.duplicated, row.unacked) == (6, 5, 1, 2, 1)
    assert row.recover_s is None and not row.ok
    row = count("x", messages[:4], ledger, reference=10.0, target=120.0, notes={})
    assert (row.lost, row.duplicated, row.recover_s, row.notes["affected"]) == (0, 2, 4.5, 3)
    row = count("x", messages[:2], ledger, reference=10.0, target=4.0, notes={})
    assert (row.recover_s, row.ok) == (4.5, False)
    assert count("x", messages[:2], ledger, reference=10.0, target=5.0, notes={}).ok


@pytest.mark.slow
def test_the_matrix_runs_one_row_end_to_end(tmp_path: Path) -> None:
    """`python -m benchmarks.faults` with one cheap row: real processes, both surfaces, the table."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.faults",
            "--only",
            "slack_retries",
            "--per-fault",
            "4",
            "--recover",
            "60",
            "--out",
            str(tmp_path / "faults.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(line.split()[:5] == ["slack_retries", "4", "4", "0", "0"] for line in done.stdout.splitlines())
    row = json.loads((tmp_path / "faults.json").read_text())["rows"][0]
    assert (row["sent"], row["answered"], row["lost"], row["duplicated"], row["ok"]) == (4, 4, 0, 0, True)
    assert row["states"] == {"done": 4}
