"""Who is using the web chat, and in which tenant.

The keyless chat is as private as `llmos chat` only when the request really comes from this machine:
a loopback peer address and no forwarding header (a reverse proxy on the same host connects from
loopback too, and says so in `X-Forwarded-For`, `Forwarded`, `X-Real-IP` or `Via`). Everyone else
signs in with an admin key, and a tenant key chats inside its own tenant.

Two identities are kept apart: `user` is who counts for rate limits and `/forget` (the machine's one
person on the open chat, or the key), `browser` is whose threads and answer streams these are (the
browser's cookie, or the key). A fresh cookie is a fresh set of threads, never a fresh rate limit.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from bots.admin import keys
from bots.admin.deps import COOKIE
from bots.admin.settings import AdminSettings
from db.models import Tenant
from workers.events import Platform

WEB_USER = "llmos_web_user"
LOCAL_TENANT, LOCAL_NAME = "local", "this machine"
LOCAL_USER = "local"
BROWSER_ID = re.compile(r"web-[A-Za-z0-9_-]{16,64}")
# Headers a proxy adds for the client it forwards; any of them means the peer address is not the person.
FORWARDING_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "via",
)


@dataclass(frozen=True, slots=True)
class Chatter:
    user: str
    browser: str
    tenant_platform: str = str(Platform.WEB)
    tenant: str = LOCAL_TENANT
    tenant_name: str = LOCAL_NAME
    tenant_id: int | None = None

    @property
    def ref(self) -> dict[str, str]:
        """What the event carries so that its stream is shown to this browser only, in the right tenant."""
        ref = {"browser": self.browser}
        if self.tenant_platform != Platform.WEB:
            ref["tenant_platform"] = self.tenant_platform
        return ref


def from_this_machine(request: Request) -> bool:
    """A loopback peer that no proxy forwarded."""
    peer = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if not (mapped or address).is_loopback:
        return False
    return not any(name in request.headers for name in FORWARDING_HEADERS)


def is_open(request: Request, settings: AdminSettings) -> bool:
    return settings.chat_is_open and from_this_machine(request)


def identify(request: Request, settings: AdminSettings, session: Session) -> Chatter | None:
    """The chatter behind this request; None when it must open /chat first or sign in."""
    if is_open(request, settings):
        found = request.cookies.get(WEB_USER, "")
        return Chatter(user=LOCAL_USER, browser=found) if BROWSER_ID.fullmatch(found) else None
    token = request.cookies.get(COOKIE)
    principal = keys.authenticate(session, token) if token else None
    if principal is None:
        return None
    who = f"key-{principal.key_id}"
    if principal.tenant_id is None:
        return Chatter(user=who, browser=who)
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None:
        return None
    return Chatter(
        user=who,
        browser=who,
        tenant_platform=tenant.platform,
        tenant=tenant.external_id,
        tenant_name=tenant.name or tenant.external_id,
        tenant_id=tenant.id,
    )
