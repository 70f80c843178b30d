"""The admin surface: the admin service and web chat (always started with LLMOS), and the admin jobs'
outlet (every worker answers jobs, wherever the admin service runs)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute

from bots.admin.jobsink import job_outlet
from bots.admin.service import AdminService
from bots.admin.settings import AdminSettings, load_admin_settings
from workers.sinks import Outlet, SinkContext
from workers.stack import Stack


class AdminSurface:
    name = "admin"
    listens = True

    def __init__(self, *, settings: AdminSettings) -> None:
        self.settings = settings
        self.service: AdminService | None = None
        self._routes: list[BaseRoute] = []

    def add_routes(self, routes: Sequence[BaseRoute]) -> None:
        """Serve other surfaces' HTTP (Slack events, Discord interactions) on this app: one port for all."""
        self._routes.extend(routes)

    def outlets(self, context: SinkContext) -> Sequence[Outlet]:
        return [job_outlet(context)]

    def start(self, stack: Stack) -> None:
        self.service = AdminService.for_stack(stack, self.settings)
        # Ahead of the admin routes, so no catch-all of theirs can shadow a platform's path.
        self.service.app.router.routes[0:0] = self._routes
        self.service.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def describe(self) -> str:
        return self.service.describe() if self.service is not None else "admin (not started)"


def from_environment() -> AdminSurface:
    return AdminSurface(settings=load_admin_settings())
