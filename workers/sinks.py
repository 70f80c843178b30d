"""Where an answer goes: one small interface every platform implements, and the registry that picks one.

A sink shows an answer as it grows. `start` returns the platform's handle on the answer message
(a Slack `ts`, a Discord message id, a stream name) so that a redelivered task can resume that same
message instead of posting a second one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from workers.events import Event, Platform

if TYPE_CHECKING:
    from workers.runtime import Runtime


class ReplySink(Protocol):
    def start(self, *, resume_ref: str | None) -> str:
        """Show that an answer is coming; with `resume_ref`, take over that earlier answer message."""
        ...

    def append(self, text: str) -> None:
        """Add newly generated text (sinks batch or throttle updates as their platform requires)."""
        ...

    def finish(self, text: str) -> None:
        """Show the complete answer; `text` is the whole of it."""
        ...

    def fail(self, message: str) -> None:
        """Replace the answer with a short explanation for the user."""
        ...


@runtime_checkable
class StatusSink(Protocol):
    """A sink that can also show a short note before the answer starts (optional for a platform)."""

    def status(self, text: str) -> None:
        """Show `text` (e.g. "Queued, about 20 s") where the answer will appear; the answer replaces it."""
        ...


SinkFactory = Callable[[Event, "Runtime"], ReplySink]

# Import paths, resolved on first use, so a worker loads only the SDKs of platforms it serves.
DEFAULT_FACTORIES: dict[Platform, str] = {
    Platform.TERMINAL: "workers.replybus:bus_sink",
    Platform.WEB: "workers.replybus:bus_sink",
    Platform.ADMIN: "bots.admin.jobsink:job_sink",
    Platform.SLACK: "bots.slack.sink:slack_sink",
    Platform.DISCORD: "bots.discord.sink:discord_sink",
}


class UnknownPlatform(LookupError):
    pass


class SinkRegistry:
    def __init__(self, factories: dict[Platform, str | SinkFactory] | None = None) -> None:
        self._factories: dict[Platform, str | SinkFactory] = dict(DEFAULT_FACTORIES)
        self._factories.update(factories or {})

    def register(self, platform: Platform, factory: str | SinkFactory) -> None:
        self._factories[platform] = factory

    def for_event(self, event: Event, runtime: Runtime) -> ReplySink:
        factory = self._factories.get(event.platform)
        if factory is None:
            raise UnknownPlatform(f"no reply sink for platform {event.platform!r}")
        if isinstance(factory, str):
            module, _, name = factory.partition(":")
            factory = getattr(importlib.import_module(module), name)
            self._factories[event.platform] = factory
        return factory(event, runtime)
