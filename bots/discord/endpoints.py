"""Point discord.py at a Discord other than discord.com: a proxy, or the fake Discord of the tests.

discord.py builds every REST URL from the class attribute `Route.BASE` and opens the gateway at
`DiscordWebSocket.DEFAULT_GATEWAY`, also on paths no client option reaches: interaction responses
go through its webhook adapter, and a reconnect after an invalidated session starts again from the
default gateway. A per-client override would leave part of the traffic going to discord.com, so the
two library attributes are the one place to change; the library itself sets `Route.BASE` the same
way when it switches API version. One LLMOS process talks to exactly one Discord, so they are set
once per process, here and nowhere else, and a second, different value is refused rather than
silently redirecting a client that is already running.
"""

from __future__ import annotations

import logging
import threading

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger(__name__)

_lock = threading.Lock()
_api: str | None = None
_gateway: str | None = None


class EndpointConflict(RuntimeError):
    """Another part of this process already points discord.py at a different Discord."""


def use(*, api_url: str, gateway_url: str | None) -> None:
    """Apply DISCORD_API_URL and DISCORD_GATEWAY_URL to discord.py for this process."""
    global _api  # noqa: PLW0603 - process-wide by discord.py's design (see the module docstring)
    with _lock:
        if _api is not None and _api != api_url:
            raise EndpointConflict(f"discord.py already uses {_api}; one process talks to one Discord")
        if _api is None:
            Route.BASE = api_url
            _api = api_url
            if api_url != "https://discord.com/api/v10":
                log.info("Discord REST API at %s", api_url)
    if gateway_url:
        use_gateway(gateway_url)


def use_gateway(url: str) -> None:
    """Set the gateway discord.py connects (and reconnects) to; asked of the REST API when not configured."""
    global _gateway  # noqa: PLW0603 - see the module docstring
    with _lock:
        if _gateway is not None and _gateway != url:
            raise EndpointConflict(f"discord.py already uses the gateway {_gateway}")
        if _gateway is None:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            _gateway = url
            log.info("Discord gateway at %s", url)


def gateway_configured() -> bool:
    return _gateway is not None
