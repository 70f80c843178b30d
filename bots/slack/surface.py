"""The Slack surface `llmos slack` and `llmos run` start: HTTP endpoint, Socket Mode, or both.

With `SLACK_SIGNING_SECRET` the Events API endpoint listens; with `SLACK_APP_TOKEN` a Socket Mode
connection is opened; with both, either delivery path works (a message seen twice is answered once).
Its outlet gives this process's workers the Slack sink, built from the same settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from urllib.parse import urlparse

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from starlette.routing import BaseRoute

from bots.slack.app import build_app
from bots.slack.files import FileReader
from bots.slack.http import HttpServer, routes
from bots.slack.people import People
from bots.slack.services import Services
from bots.slack.settings import SlackSettings, load_slack_settings
from bots.slack.sink import SinkFactory
from bots.slack.web import api_url, error_code
from workers.settings import SettingsError
from workers.sinks import Outlet, SinkContext
from workers.stack import Stack

log = logging.getLogger(__name__)


def _models(stack: Stack) -> Callable[[], tuple[str, ...]]:
    def models() -> tuple[str, ...]:
        return stack.engine.health().models if stack.engine is not None else ()

    return models


class SlackSurface:
    name = "slack"

    def __init__(self, *, settings: SlackSettings) -> None:
        self.settings = settings
        self.app: App | None = None
        self.http: HttpServer | None = None
        self._socket: SocketModeHandler | None = None
        # The Events API as routes of the one ASGI app, when it joins it (`share_port`).
        self._shared = False
        self._routes: list[BaseRoute] = []

    @property
    def listens(self) -> bool:
        """False for a worker's Slack settings: a bot token to answer with, but nothing to receive."""
        return self.settings.configured

    def share_port(self) -> bool:
        """Serve the Events API on the one HTTP port, unless SLACK_PORT asks for a port of its own."""
        self._shared = self.settings.http and "port" not in self.settings.model_fields_set
        return self._shared

    def routes(self) -> Sequence[BaseRoute]:
        """The routes for the one ASGI app (after `start`; none when Slack listens on its own port)."""
        return self._routes

    def outlets(self, context: SinkContext) -> Sequence[Outlet]:
        return [SinkFactory.build(self.settings, sessions=context.sessions).outlet()]

    def start(self, stack: Stack) -> None:
        s = self.settings
        services = Services(
            sessions=stack.sessions,
            enqueue=stack.enqueue,
            settings=s,
            people=People(),
            files=FileReader(
                text_limit=s.file_max_bytes,
                image_limit=s.image_max_bytes,
                max_images=s.max_images,
                trusted_hosts=[host for host in [_host(api_url(s))] if host],
                vision=lambda: bool(stack.settings.vision_models.strip()),
                documents=stack.settings.document_limits,
            ),
            models=_models(stack),
            skills=stack.skills.names,
            rate_ceiling=stack.scheduling.user_requests_per_minute,
            leases=stack.leases,
        )
        self.app = build_app(services, engine=stack.db)
        if s.http and self._shared:
            self._routes = routes(self.app, path=s.path)
        elif s.http:
            try:
                self.http = HttpServer(app=self.app, host=s.host, port=s.port, path=s.path).start()
            except OSError as exc:
                raise SettingsError(f"SLACK_PORT: cannot listen on {s.host}:{s.port} ({exc.strerror})") from None
        if s.socket_mode:
            assert s.app_token is not None
            socket = SocketModeHandler(self.app, app_token=s.app_token.get_secret_value())
            try:
                socket.connect()  # type: ignore[no-untyped-call]
            except SlackApiError as exc:
                self.stop()
                raise SettingsError(f"SLACK_APP_TOKEN: Slack refused it ({error_code(exc)})") from None
            self._socket = socket
            log.info("Slack Socket Mode connected")

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        if self.http is not None:
            self.http.stop()
            self.http = None

    def describe(self) -> str:
        ways = []
        if self.http is not None:
            ways.append(f"Events API at {self.http.url}")
        if self._routes:
            ways.append(f"Events API at {self.settings.path} on the admin service's port")
        if self._socket is not None:
            ways.append("Socket Mode")
        who = "OAuth installs (/slack/install)" if self.settings.oauth else "one workspace"
        return f"slack ({', '.join(ways)}; {who})"


def _host(url: str) -> str:
    return urlparse(url).hostname or ""


def from_environment() -> SlackSurface | None:
    """Slack, when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set (to serve it) or only a bot token or
    OAuth client (a worker that answers for a Slack surface running elsewhere)."""
    settings = load_slack_settings()
    return SlackSurface(settings=settings) if settings.configured or settings.answers else None
