"""Point discord.py at a Discord other than discord.com: a proxy, or the fake Discord of the tests.

discord.py builds every REST URL from the class attribute `Route.BASE` and opens the gateway at
`DiscordWebSocket.DEFAULT_GATEWAY`, also on paths no client option reaches: interaction responses
go through its webhook adapter, and a reconnect after an invalidated session starts again from the
default gateway. A per-client override would leave part of the traffic going to discord.com, so the
two library attributes are the one place to change; the library itself sets `Route.BASE` the same
way when it switches API version. One LLMOS process talks to exactly one Discord: the attributes
are the only record kept (no state of our own), and a second, different value is refused rather
than silently redirecting a client that is already running.
"""

from __future__ import annotations

import logging
import threading

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger(__name__)

# What discord.py ships with, read once at import: anything else was set by `use`.
LIBRARY_API = str(Route.BASE)
LIBRARY_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY
_LOCK = threading.Lock()


class EndpointConflict(RuntimeError):
    """Another part of this process already points discord.py at a different Discord."""


def use(*, api_url: str, gateway_url: str | None) -> None:
    """Apply DISCORD_API_URL and DISCORD_GATEWAY_URL to discord.py for this process."""
    with _LOCK:
        current = str(Route.BASE)
        if current not in (LIBRARY_API, api_url):
            raise EndpointConflict(f"discord.py already uses {current}; one process talks to one Discord")
        if current != api_url:
            Route.BASE = api_url
            log.info("Discord REST API at %s", api_url)
    if gateway_url:
        use_gateway(gateway_url)


def use_gateway(url: str) -> None:
    """Set the gateway discord.py connects (and reconnects) to; asked of the REST API when not configured."""
    wanted = yarl.URL(url)
    with _LOCK:
        current = DiscordWebSocket.DEFAULT_GATEWAY
        if current not in (LIBRARY_GATEWAY, wanted):
            raise EndpointConflict(f"discord.py already uses the gateway {current}")
        if current != wanted:
            DiscordWebSocket.DEFAULT_GATEWAY = wanted
            log.info("Discord gateway at %s", url)


def gateway_configured() -> bool:
    return DiscordWebSocket.DEFAULT_GATEWAY != LIBRARY_GATEWAY
