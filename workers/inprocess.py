"""A Celery worker inside the current process, for `llmos run`, `llmos chat` and the tests.

It is the same consumer, pool and task code as `llmos worker`; it just lives on a thread, which is
what lets the embedded setup work with Celery's in-process broker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from celery import Celery
from celery.worker import WorkController
from celery.worker import state as worker_state
from kombu.asynchronous import set_event_loop

from workers.queues import QUEUE_ORDER, Queue

log = logging.getLogger(__name__)


class _Controller(WorkController):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.consuming = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        self.consuming.set()


class InProcessWorker:
    def __init__(
        self, app: Celery, *, concurrency: int, name: str = "inprocess", queues: Sequence[Queue] = QUEUE_ORDER
    ) -> None:
        self._app = app
        self._concurrency = concurrency
        self._queues = [str(q) for q in queues]
        self._name = f"{name}-{os.getpid()}@localhost"
        self._controller: _Controller | None = None
        self._thread: threading.Thread | None = None

    def start(self, *, timeout: float = 30.0) -> InProcessWorker:
        # Celery keeps shutdown flags in module globals; a worker stopped earlier in this process
        # (tests, a reconfigured chat) must not stop this one at its first loop.
        worker_state.should_stop = None
        worker_state.should_terminate = None
        # A worker reuses kombu's process-wide event loop if one is set; each in-process worker (the
        # general one and the interactive-only one) must poll its own, from its own thread.
        set_event_loop(None)
        self._app.finalize()
        self._app.set_current()
        self._controller = _Controller(
            app=self._app,
            hostname=self._name,
            pool="threads",
            concurrency=self._concurrency,
            queues=self._queues,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.WARNING,
        )
        # ...and leaves the slot empty for the next one (`llmos worker` starts its own after this).
        set_event_loop(None)
        self._thread = threading.Thread(target=self._controller.start, name=f"celery-{self._name}", daemon=True)
        self._thread.start()
        if not self._controller.consuming.wait(timeout):
            raise RuntimeError(f"the in-process worker did not start consuming within {timeout:.0f}s")
        log.info("in-process worker %s consuming with %d threads", self._name, self._concurrency)
        return self

    def stop(self, *, timeout: float = 30.0) -> None:
        controller, self._controller = self._controller, None
        if controller is None:
            return
        controller.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(timeout)
