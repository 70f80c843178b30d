"""Which URLs LLMOS agrees to POST to (job callbacks, outbound webhooks).

A tenant chooses these URLs, so by default they must lead to public addresses: otherwise a tenant
could make LLMOS reach the cloud metadata service, the database's admin port or anything else on the
private network. Checked when the URL is given and again before each delivery (DNS can change).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    pass


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve ({exc.strerror or exc})") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check(url: str, *, allow_private: bool) -> str:
    """Return the URL when LLMOS may call it; raise UnsafeURL saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("put no credentials in the URL; LLMOS signs each request instead")
    if allow_private:
        return url
    for address in _addresses(parts.hostname):
        if not address.is_global:
            raise UnsafeURL(
                f"the URL leads to a non-public address ({address}); set ADMIN_ALLOW_PRIVATE_URLS=true to allow it"
            )
    return url
