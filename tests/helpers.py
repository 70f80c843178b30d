"""Small helpers the tests share: a terminal chat on a stack, and reading back what was stored."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from bots.terminal import TerminalChat
from db.models import Message, ProcessedEvent, Usage
from engine.simulator import SimulatedEngine
from workers.stack import Stack


@dataclass
class Said:
    code: int
    out: str
    err: str


def chat(stack: Stack, line: str, *, user: str = "alice", thread: str = "t1", timeout: float = 30.0) -> Said:
    out, err = io.StringIO(), io.StringIO()
    code = TerminalChat(
        sessions=stack.sessions,
        bus=stack.bus,
        enqueue=stack.enqueue,
        user=user,
        thread=thread,
        out=out,
        err=err,
        reply_timeout=timeout,
    ).ask(line)
    settle(stack)
    return Said(code, out.getvalue(), err.getvalue())


def settle(stack: Stack, timeout: float = 30.0) -> None:
    """Wait until no event is still in flight: none open in the ledger, and no worker still holding
    one (a worker marks `done` with the stored answer, then shows the last of it and lets go)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with stack.sessions() as session:
            keys = list(session.scalars(select(ProcessedEvent.key)))
            busy = session.scalar(
                select(func.count())
                .select_from(ProcessedEvent)
                .where(ProcessedEvent.status.in_(["pending", "running", "answered"]))
            )
        if not busy and not stack.leases.live(keys):
            return
        time.sleep(0.02)
    raise AssertionError("events still in flight")


def shown(stack: Stack, key: str) -> bool:
    """The worker is done with `key` at the platform too (it let go of its lease after the last update)."""
    return not stack.leases.live([key])


def messages(stack: Stack, role: str | None = None) -> list[Message]:
    with stack.sessions() as session:
        query = select(Message).order_by(Message.id)
        if role:
            query = query.where(Message.role == role)
        return list(session.scalars(query))


def count(stack: Stack, model: type[Usage] | type[ProcessedEvent] | type[Message]) -> int:
    with stack.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def disconnected(simulator: SimulatedEngine, timeout: float = 10.0) -> bool:
    """Whether the engine saw LLMOS close the last request's stream (it notices at its next write)."""
    deadline = time.monotonic() + timeout
    while simulator.requests[-1].disconnected_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return simulator.requests[-1].disconnected_at is not None
