"""The surfaces `llmos run` can start, each only when its credentials are configured.

A surface is anything that receives messages and hands them to `workers.intake.submit`: the Slack
app, the Discord bot, the admin HTTP service. Each module exposes a factory that returns None when
its configuration is absent, so `llmos run` starts exactly what the environment asks for.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Protocol

from workers.stack import Stack

log = logging.getLogger(__name__)


class Surface(Protocol):
    name: str

    def start(self) -> None:
        """Start serving in the background (a thread or a server); return once it accepts work."""
        ...

    def stop(self) -> None: ...

    def describe(self) -> str:
        """One line for the start-up summary: where it listens, in which mode."""
        ...


SurfaceFactory = Callable[[Stack], Surface | None]

# Import paths, so `llmos run` imports only the SDKs of the surfaces it starts.
FACTORIES: list[str] = [
    "bots.admin.surface:admin_surface",
    "bots.slack.surface:slack_surface",
    "bots.discord.surface:surface",
]


def configured(stack: Stack) -> list[Surface]:
    surfaces = []
    for path in FACTORIES:
        module, _, name = path.partition(":")
        factory: SurfaceFactory = getattr(importlib.import_module(module), name)
        surface = factory(stack)
        if surface is not None:
            surfaces.append(surface)
    return surfaces


def serve(stack: Stack, surface: Surface, *, title: str, wait: Callable[[], None]) -> None:
    """Run one surface in the foreground: start it, say what runs where, and stop it when `wait` returns."""
    surface.start()
    stack.on_close(surface.stop)
    print(f"{title} is running (Ctrl-C stops).")
    for line in [*stack.describe(), f"surface:  {surface.describe()}"]:
        print(f"  {line}")
    sys.stdout.flush()
    wait()
