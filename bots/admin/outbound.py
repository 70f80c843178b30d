"""One outbound POST to a tenant-chosen URL, made safely: pinned address, one deadline, bounded reply.

The host is resolved once; every address it resolves to must be public (unless private URLs are
allowed), and the connection goes to the address that was checked, so a DNS answer that changes
between the check and the connect (rebinding) cannot lead inward. TLS still verifies the name in the
URL (it is sent as SNI and checked against the certificate). The whole delivery, from resolving to
the last byte read, has one deadline, and at most `RESPONSE_CAP` bytes of the reply are read.

What the tenant sees of a failure is one of a few fixed phrases; details stay in the service's log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from bots.admin import urls

log = logging.getLogger(__name__)

RESPONSE_CAP = 64 * 1024
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None
    # A phrase fit for the tenant's delivery log; None when the receiver accepted (2xx).
    error: str | None


async def resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def pinned_address(url: str, *, allow_private: bool) -> Address:
    """The address to connect to: every resolved address is checked, the first is used."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = await resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise urls.UnsafeURL(f"the host does not resolve ({exc.strerror or type(exc).__name__})") from None
    return urls.first_allowed(found, allow_private=allow_private)


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    deadline: float,
    allow_private: bool,
) -> Outcome:
    """POST `body` to `url` within `deadline` seconds; never raises for anything the receiver does."""
    try:
        async with asyncio.timeout(deadline):
            return await _post(client, url, body=body, headers=headers, allow_private=allow_private)
    except TimeoutError:
        return Outcome(None, f"no answer within {deadline:g} s")
    except urls.UnsafeURL as exc:
        return Outcome(None, f"refused: {exc}")
    except httpx.HTTPError as exc:
        log.info("delivery to %s failed: %s", urlsplit(url).hostname, type(exc).__name__)
        return Outcome(None, _phrase(exc))


async def _post(
    client: httpx.AsyncClient, url: str, *, body: bytes, headers: dict[str, str], allow_private: bool
) -> Outcome:
    urls.check_form(url)
    address = await pinned_address(url, allow_private=allow_private)
    target = httpx.URL(url)
    host_header = target.netloc.decode("ascii")
    request = client.build_request(
        "POST",
        target.copy_with(host=str(address)),
        content=body,
        headers={**headers, "Host": host_header},
        extensions={"sni_hostname": target.host},
    )
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= RESPONSE_CAP:
                break
    finally:
        await response.aclose()
    code = response.status_code
    return Outcome(code, None if 200 <= code < 300 else f"HTTP {code}")


class OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; a receiver's path may hold its token, so keep the origin."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 2 and isinstance(record.args[1], httpx.URL):
            url: httpx.URL = record.args[1]
            shown = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}/…"
            record.args = (record.args[0], shown, *record.args[2:])
        return True


def hide_paths_in_http_logs() -> None:
    """Install `OriginOnly` on httpx's logger once (the deliverer calls it when it starts)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, OriginOnly) for f in logger.filters):
        logger.addFilter(OriginOnly())


def _phrase(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver broke the HTTP exchange"
    return "the request failed"
