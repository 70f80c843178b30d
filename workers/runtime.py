"""What a worker process needs to answer events, built once at its entry point and installed here."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from engine.base import Engine
from workers.leases import LeaseKeeper, Leases
from workers.replybus import ReplyBus
from workers.settings import Settings
from workers.sinks import SinkRegistry

if TYPE_CHECKING:
    from workers.tools.toolbox import Toolset


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]
    engine: Engine
    bus: ReplyBus
    leases: Leases
    keeper: LeaseKeeper
    sinks: SinkRegistry = field(default_factory=SinkRegistry)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # The tools this process offers the model (built-in and MCP); None: no tools at all.
    tools: Toolset | None = None
    # Told when a task is done with an event (key, kind, outcome, tokens used): the scheduler frees its slot.
    on_finished: Callable[[str, str, str, int], None] | None = None


_current: Runtime | None = None


class NotConfigured(RuntimeError):
    pass


def install(runtime: Runtime | None) -> None:
    global _current  # noqa: PLW0603 - one runtime per worker process, set by its entry point
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise NotConfigured("the worker runtime is not installed; start workers with `llmos worker` or `llmos run`")
    return _current
