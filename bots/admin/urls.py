"""Which URLs LLMOS agrees to POST to (job callbacks, outbound webhooks).

A tenant chooses these URLs, so by default they must lead to public addresses: otherwise a tenant
could make LLMOS reach the cloud metadata service, the database's admin port or anything else on the
private network. Checked when the URL is given and again before each delivery (DNS can change);
a delivery connects to the very address it checked (`bots.admin.outbound`).

An IPv6 address can carry an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
`2002::/16`, Teredo); such an address is judged by the IPv4 address inside it as well.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    pass


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where it stands for one."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or address in NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def require_public(address: Address) -> None:
    inner = embedded_ipv4(address)
    if not address.is_global or (inner is not None and not inner.is_global) or address in NAT64_LOCAL:
        raise UnsafeURL(
            f"the URL leads to a non-public address ({address}); set ADMIN_ALLOW_PRIVATE_URLS=true to allow it"
        )


def _addresses(host: str) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve ({exc.strerror or exc})") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def first_allowed(found: list[Address], *, allow_private: bool) -> Address:
    """The address to connect to out of those a host resolved to: every one checked, the first used."""
    if not found:
        raise UnsafeURL("the host does not resolve")
    if not allow_private:
        for address in found:
            require_public(address)
    return found[0]


def check_form(url: str) -> str:
    """The URL's shape: http(s), a host, a valid port, no credentials. Returns the host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"the URL is malformed ({exc})") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("put no credentials in the URL; LLMOS signs each request instead")
    if port == 0:
        raise UnsafeURL("the URL's port must be 1-65535")
    return parts.hostname


def check(url: str, *, allow_private: bool) -> str:
    """Return the URL when LLMOS may call it; raise UnsafeURL saying why not."""
    host = check_form(url)
    if allow_private:
        return url
    for address in _addresses(host):
        require_public(address)
    return url
