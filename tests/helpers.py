"""Small helpers the tests share: a terminal chat on a stack, and reading back what was stored."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from bots.terminal import TerminalChat
from db.models import Message, ProcessedEvent, Usage
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
    """Wait until no event is still in flight (the worker marks `done` just after the last update)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with stack.sessions() as session:
            busy = session.scalar(
                select(func.count())
                .select_from(ProcessedEvent)
                .where(ProcessedEvent.status.in_(["pending", "running", "answered"]))
            )
        if not busy:
            return
        time.sleep(0.02)
    raise AssertionError("events still in flight")


def messages(stack: Stack, role: str | None = None) -> list[Message]:
    with stack.sessions() as session:
        query = select(Message).order_by(Message.id)
        if role:
            query = query.where(Message.role == role)
        return list(session.scalars(query))


def count(stack: Stack, model: type[Usage] | type[ProcessedEvent] | type[Message]) -> int:
    with stack.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
