"""Where an answer goes: one small interface every platform implements, and the registry that picks one.

A sink shows an answer as it grows. `start` returns the platform's handle on the answer message
(a Slack `ts`, a Discord message id, a stream name) so that a redelivered task can resume that same
message instead of posting a second one.

The workers never import a platform. Each surface hands the stack an `Outlet` for its platform (built
from the surface's own settings at the entry point); the stack puts them in the `SinkRegistry` of
its runtime, and the task path asks that registry for the sink of each event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session, sessionmaker

from workers.events import Event, Platform
from workers.replybus import BusSink, ReplyBus

log = logging.getLogger(__name__)


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


SinkFactory = Callable[[Event], ReplySink]


class ChannelRef(Protocol):
    def __call__(self, *, tenant: str, channel: str, thread: str | None) -> Mapping[str, Any]:
        """The `Event.ref` for a post into `channel` (or its `thread`) that answers nobody in particular."""
        ...


@dataclass(frozen=True, slots=True)
class Outlet:
    """What a surface gives the workers: its platform's sinks, and (optionally) posts into a channel."""

    platform: Platform
    sink: SinkFactory
    # For an admin job whose destination is a channel of this platform; None: the platform has no channels.
    channel_ref: ChannelRef | None = None
    # Called once when the stack closes (a logged-in REST client to log out, ...).
    close: Callable[[], None] | None = None
    # A plugin surface's name, with platform PLUGIN (its events carry it as `ref["surface"]`).
    surface: str = ""

    @property
    def key(self) -> tuple[Platform, str]:
        return self.platform, self.surface


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What an outlet may use to build its sinks: the worker's database, its reply bus, the other outlets."""

    sessions: sessionmaker[Session]
    bus: ReplyBus
    sinks: SinkRegistry


class OutletSource(Protocol):
    """A surface, as far as the workers are concerned."""

    name: str

    def outlets(self, context: SinkContext) -> Sequence[Outlet]: ...


class UnknownPlatform(LookupError):
    pass


class SinkRegistry:
    """The outlets of one worker process, by platform; the terminal and web chat follow the reply bus."""

    def __init__(self, *, bus: ReplyBus) -> None:
        self._lock = threading.Lock()
        self._outlets: dict[tuple[Platform, str], Outlet] = {}
        for platform in (Platform.TERMINAL, Platform.WEB):
            self.add(Outlet(platform, lambda event: BusSink(bus, event.key)))

    def add(self, outlet: Outlet) -> Outlet | None:
        """Serve `outlet.platform` through `outlet`; the outlet it replaces (returned) is closed."""
        with self._lock:
            previous = self._outlets.get(outlet.key)
            self._outlets[outlet.key] = outlet
        if previous is not None and previous is not outlet:
            _close(previous)
        return previous

    def extend(self, outlets: Iterable[Outlet]) -> None:
        for outlet in outlets:
            self.add(outlet)

    def remove(self, platform: Platform, surface: str = "") -> None:
        with self._lock:
            self._outlets.pop((platform, surface), None)

    def outlet(self, platform: Platform, surface: str = "") -> Outlet:
        with self._lock:
            found = self._outlets.get((platform, surface))
        if found is None:
            shown = f"{platform}:{surface}" if surface else str(platform)
            raise UnknownPlatform(
                f"no reply sink for {shown!r}: this worker was not given that surface "
                "(configure it, or install its plugin, where the worker starts)"
            )
        return found

    def for_event(self, event: Event) -> ReplySink:
        return self.outlet(event.platform, event.surface).sink(event)

    def close(self) -> None:
        with self._lock:
            outlets = list(self._outlets.values())
        for outlet in outlets:
            _close(outlet)


def _close(outlet: Outlet) -> None:
    if outlet.close is not None:
        try:
            outlet.close()
        except Exception:
            log.warning("closing the %s outlet failed", outlet.platform, exc_info=True)
