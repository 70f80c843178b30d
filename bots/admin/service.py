"""The admin service as a surface: uvicorn on a thread, plus the deliverer and the engine watch.

`llmos run` and `llmos admin` start it beside the rest of the stack; it uses the stack's database,
broker, reply bus and engine rather than opening its own.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from bots.admin.app import build_app, templates
from bots.admin.delivery import Deliverer
from bots.admin.deps import Services
from bots.admin.destinations import DestinationCheck
from bots.admin.health import BrokerProbe, EngineWatch
from bots.admin.jobsink import SinkCheck
from bots.admin.limits import MAX_HEADER_BYTES
from bots.admin.metrics import Metrics
from bots.admin.pruner import Pruner
from bots.admin.sealing import box_for, reseal_all
from bots.admin.settings import AdminSettings
from engine.base import Engine
from engine.embeddings import Embedder
from workers.documents.convert import DEFAULT_LIMITS, Limits
from workers.intake import Enqueue
from workers.leases import Leases
from workers.replybus import ReplyBus
from workers.settings import SettingsError
from workers.stack import Stack

log = logging.getLogger(__name__)

# Connections served at once before uvicorn answers 503: a flood costs a bounded number of tasks.
LIMIT_CONCURRENCY = 1000
DEFAULT_HOME = Path(".llmos")
DEFAULT_RETENTION_DAYS = 30


class AdminService:
    name = "admin"

    def __init__(
        self,
        *,
        settings: AdminSettings,
        sessions: sessionmaker[Session],
        enqueue: Enqueue,
        bus: ReplyBus,
        broker_url: str | None,
        engine: Engine | None,
        metrics_settle: float | None = None,
        destinations: DestinationCheck | None = None,
        home: Path = DEFAULT_HOME,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        skills: frozenset[str] = frozenset(),
        documents: Limits = DEFAULT_LIMITS,
        leases: Leases | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.box = box_for(settings.secret_key.get_secret_value() if settings.secret_key else None, home=home)
        self._sessions = sessions
        self.watch = EngineWatch(engine=engine, sessions=sessions, interval=settings.engine_check_seconds)
        self.broker = BrokerProbe(broker_url)
        extra = {} if metrics_settle is None else {"settle": metrics_settle}
        self.metrics = Metrics(sessions=sessions, broker=self.broker, watch=self.watch, **extra)
        self.deliverer = Deliverer(sessions=sessions, settings=settings, box=self.box)
        self.pruner = Pruner(sessions=sessions, days=retention_days)
        self.services = Services(
            settings=settings,
            sessions=sessions,
            enqueue=enqueue,
            bus=bus,
            broker=self.broker,
            watch=self.watch,
            metrics=self.metrics,
            templates=templates(),
            box=self.box,
            destinations=destinations,
            skills=skills,
            documents=documents,
            leases=leases,
            embedder=embedder,
        )
        self.app = build_app(self.services)
        self.port = settings.port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_stack(cls, stack: Stack, settings: AdminSettings, **extra: float) -> AdminService:
        return cls(
            settings=settings,
            sessions=stack.sessions,
            enqueue=stack.enqueue,
            bus=stack.bus,
            broker_url=None if stack.broker.in_process else stack.broker.url,
            engine=stack.engine,
            destinations=SinkCheck(stack.sinks),
            home=stack.settings.llmos_home,
            retention_days=stack.settings.retention_days,
            skills=stack.skills.names,
            documents=stack.settings.document_limits,
            leases=stack.leases,
            embedder=stack.embedder,
            **extra,
        )

    @property
    def url(self) -> str:
        host = self.settings.host
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104 - naming, not binding
        return f"http://[{shown}]:{self.port}" if ":" in shown else f"http://{shown}:{self.port}"

    def _listen(self) -> socket.socket:
        host, port = self.settings.host, self.settings.port
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise SettingsError(
                f"ADMIN_PORT: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "set ADMIN_PORT to a free port (0 picks one) or ADMIN_HOST to another address"
            ) from None
        sock.listen(1024)
        self.port = int(sock.getsockname()[1])
        return sock

    def start(self, *, timeout: float = 15.0) -> None:
        sock = self._listen()
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
            # Bodies are capped per route by BodyLimit; these bound the rest of a request and idle connections.
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            timeout_keep_alive=5,
            limit_concurrency=LIMIT_CONCURRENCY,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="admin-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the admin service did not start on {self.url}")
            time.sleep(0.02)
        reseal_all(self._sessions, self.box)
        self.watch.start()
        self.deliverer.start()
        self.pruner.start()
        log.info("admin service listening at %s", self.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.watch.stop()
        self.deliverer.stop()
        self.pruner.stop()
        self.broker.close()

    def describe(self) -> str:
        return f"web chat {self.url}/chat  (dashboard: /dashboard, admin API: /docs)"
