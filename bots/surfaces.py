"""Surfaces: what receives messages and hands them to `workers.intake.submit`, and shows the answers.

A surface is one object built at the entry point from its own settings (the Slack app, the Discord
bot, the admin service). It gives the workers its `Outlet` (its reply sinks, `outlets`), and it
serves its platform when started (`start`). `llmos run` and `llmos worker` build every surface the
environment configures and hand them all to the stack (so a worker can answer every platform, an admin
job's destination included); `llmos slack`, `llmos discord` and `llmos admin` start only their own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from starlette.routing import BaseRoute

from bots.admin import surface as admin
from bots.discord import surface as discord
from bots.slack import surface as slack
from workers import plugins
from workers.sinks import Outlet, SinkContext
from workers.stack import Stack

log = logging.getLogger(__name__)


class Surface(Protocol):
    name: str

    @property
    def listens(self) -> bool:
        """Whether this process has something to start for it (False: its workers only answer for it)."""
        ...

    def outlets(self, context: SinkContext) -> Sequence[Outlet]:
        """The reply sinks this surface's platform needs in a worker, built from the surface's settings."""
        ...

    def start(self, stack: Stack) -> None:
        """Start serving in the background (a thread or a server); return once it accepts work."""
        ...

    def stop(self) -> None: ...

    def describe(self) -> str:
        """One line for the start-up summary: where it listens, in which mode."""
        ...


SURFACE_PARTS = ("name", "listens", "outlets", "start", "stop", "describe")


def from_environment() -> list[Surface]:
    """Every surface whose settings are present, each read once, here at the entry point: the built-in
    ones, then those of installed plugins (`llmos.surfaces`)."""
    found: list[Surface | None] = [admin.from_environment(), slack.from_environment(), discord.from_environment()]
    found += [surface for surface, _problem in plugged()]
    return [surface for surface in found if surface is not None]


def plugged() -> list[tuple[Surface | None, plugins.Found]]:
    """Each plugin surface's entry, with the surface its factory built (None: not configured, or broken,
    as its `problem` says). A broken plugin is logged and skipped, never fatal."""
    built: list[tuple[Surface | None, plugins.Found]] = []
    for entry in plugins.entries(plugins.SURFACES_GROUP):
        surface, problem = None, entry.problem
        if not problem:
            try:
                surface, problem = _build(entry.loaded)
            except Exception as exc:  # a third-party factory: whatever it raises, LLMOS carries on
                problem = f"its factory failed: {type(exc).__name__}: {exc}"
        if problem:
            log.warning("plugin surface %r from %s skipped: %s", entry.name, entry.package, problem)
        built.append((surface, entry.failed(problem) if problem else entry))
    return built


def _build(factory: object) -> tuple[Surface | None, str]:
    if not callable(factory):
        return None, f"is a {type(factory).__name__}, not a factory"
    surface = factory()
    if surface is None:
        return None, ""
    missing = [part for part in SURFACE_PARTS if not hasattr(surface, part)]
    if missing:
        return None, f"its surface lacks {', '.join(missing)}"
    return surface, ""


def report() -> list[str]:
    """`llmos plugins`: one line per installed plugin, with its package and its state."""
    lines = []
    for entry in plugins.skills()[1]:
        lines.append(_line("skill", entry, "ok"))
    for surface, entry in plugged():
        lines.append(_line("surface", entry, "ok" if surface is not None else "not configured"))
    return lines or ["no plugins installed (entry point groups llmos.skills and llmos.surfaces)"]


def _line(kind: str, entry: plugins.Found, fine: str) -> str:
    return f"{kind:8} {entry.name:20} {entry.package:30} {entry.problem or fine}"


def named(surfaces: Sequence[Surface], name: str) -> Surface | None:
    return next((surface for surface in surfaces if surface.name == name), None)


@runtime_checkable
class SharesPort(Protocol):
    """A surface whose HTTP can be routes of the one ASGI app (the admin service's), on its port."""

    def share_port(self) -> bool:
        """Join the one app (True), unless its settings ask for a port of its own."""
        ...

    def routes(self) -> Sequence[BaseRoute]:
        """Its routes for the one app, once started."""
        ...


def start_all(stack: Stack, surfaces: Sequence[Surface]) -> list[Surface]:
    """Start the surfaces that listen here, the admin service last with the others' HTTP routes on it
    (one port, one reverse proxy, one certificate); each stops when the stack closes."""
    listening = [surface for surface in surfaces if surface.listens]
    host = next((s for s in listening if isinstance(s, admin.AdminSurface)), None)
    routes: list[BaseRoute] = []
    for surface in [s for s in listening if s is not host]:
        shared = host is not None and isinstance(surface, SharesPort) and surface.share_port()
        _start(stack, surface)
        if shared:
            assert isinstance(surface, SharesPort)
            routes += surface.routes()
    if host is not None:
        host.add_routes(routes)
        _start(stack, host)
    return listening


def _start(stack: Stack, surface: Surface) -> None:
    surface.start(stack)
    stack.on_close(surface.stop)


def serve(stack: Stack, surface: Surface, *, title: str, wait: Callable[[], None]) -> None:
    """Run one surface in the foreground: start it, say what runs where, and stop it when `wait` returns."""
    surface.start(stack)
    stack.on_close(surface.stop)
    print(f"{title} is running (Ctrl-C stops).")
    for line in [*stack.describe(), f"surface:  {surface.describe()}"]:
        print(f"  {line}")
    sys.stdout.flush()
    wait()
