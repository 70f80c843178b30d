"""What a worker process needs to answer events, built once at its entry point by the stack.

The stack hangs the runtime on the Celery app it creates (`attach`); the task finds it through its
own `self.app` (`of`), so there is no process-wide state and two stacks in one process (as in the
tests) never answer with each other's engine.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from engine.base import Engine
from engine.embeddings import Embedder
from workers.leases import LeaseKeeper, Leases
from workers.replybus import ReplyBus
from workers.settings import Settings
from workers.sinks import SinkRegistry
from workers.skills import SkillBook

ATTRIBUTE = "llmos_runtime"

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
    sinks: SinkRegistry
    # The built-in skills and the installed plugins' ones.
    skills: SkillBook = field(default_factory=SkillBook)
    # Names this process in its leases: host and pid, and a token so that a restarted container (same
    # hostname, pid 1 again) is never taken for the process that died.
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    # The tools this process offers the model (built-in and MCP); None: no tools at all.
    tools: Toolset | None = None
    # Told when a task is done with an event (key, kind, outcome, tokens used): the scheduler frees its slot.
    on_finished: Callable[[str, str, str, int], None] | None = None
    # Vectors for passages and questions (EMBEDDING_URL); None: knowledge is searched by full text only.
    embedder: Embedder | None = None


class NotConfigured(RuntimeError):
    pass


def attach(app: Celery, runtime: Runtime | None) -> None:
    """Give `app`'s tasks this runtime (None: take it away, when the stack closes)."""
    setattr(app, ATTRIBUTE, runtime)


def of(app: Celery) -> Runtime:
    runtime = getattr(app, ATTRIBUTE, None)
    if not isinstance(runtime, Runtime):
        raise NotConfigured("the worker runtime is not set up; start workers with `llmos worker` or `llmos run`")
    return runtime
