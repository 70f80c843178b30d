"""Files sent to the admin API (a job's `files`, a knowledge document): base64 content or a URL, converted to text.

A URL is fetched only from a public address unless ADMIN_ALLOW_PRIVATE_URLS is set, connecting to the
very address that was checked (as `bots.admin.outbound` does for deliveries), with no redirects and
no more bytes than the deployment's document limit.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bots.admin import urls
from workers.documents.convert import Limits, Unreadable, convert, too_large
from workers.events import Attachment

FETCH_TIMEOUT = 20.0


class FileIn(BaseModel):
    """One file: its name (whose suffix says its format) and either its bytes in base64 or a URL."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, description="file name with its suffix, e.g. handbook.pdf")
    content: str | None = Field(default=None, description="the file's bytes, base64-encoded")
    url: str | None = Field(default=None, max_length=2000, description="an http(s) URL LLMOS downloads it from")
    mime_type: str = Field(default="", max_length=128, description="its media type, if the name does not say")

    @model_validator(mode="after")
    def _one_source(self) -> FileIn:
        if (self.content is None) == (self.url is None):
            raise ValueError("give the file's content (base64) or its url, not both")
        return self


@dataclass(frozen=True, slots=True)
class Read:
    attachments: tuple[Attachment, ...]
    # What a limit left out, per file, for the caller.
    notes: tuple[str, ...]


def read_all(files: Sequence[FileIn], *, limits: Limits, allow_private: bool) -> Read:
    """Every file converted; `Unreadable` naming the first that could not be read at all."""
    attachments: list[Attachment] = []
    notes: list[str] = []
    for item in files:
        data = _bytes(item, limits=limits, allow_private=allow_private)
        converted = convert(item.name, data, mime=item.mime_type, limits=limits)
        notes += converted.notes
        attachments.append(
            Attachment(name=item.name, mime_type=item.mime_type or "", size=len(data), text=converted.text)
        )
    return Read(tuple(attachments), tuple(notes))


def _bytes(item: FileIn, *, limits: Limits, allow_private: bool) -> bytes:
    if item.content is not None:
        if len(item.content) * 3 // 4 > limits.max_bytes:
            raise Unreadable(too_large(item.name, len(item.content) * 3 // 4, limits.max_bytes))
        try:
            return base64.b64decode(item.content, validate=True)
        except (binascii.Error, ValueError):
            raise Unreadable(f"The content of {item.name} is not valid base64.") from None
    return fetch(str(item.url), name=item.name, limit=limits.max_bytes, allow_private=allow_private)


def fetch(url: str, *, name: str, limit: int, allow_private: bool) -> bytes:
    """GET `url` from the address that was checked; at most `limit` bytes."""
    try:
        urls.check_form(url)
        address = _pinned(url, allow_private=allow_private)
    except urls.UnsafeURL as exc:
        raise Unreadable(f"I did not fetch {name}: {exc}.") from None
    target = httpx.URL(url)
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=False) as client:
            request = client.build_request(
                "GET",
                target.copy_with(host=str(address)),
                headers={"Host": target.netloc.decode("ascii")},
                extensions={"sni_hostname": target.host},
            )
            response = client.send(request, stream=True)
            try:
                if response.status_code != 200:
                    raise Unreadable(f"I could not fetch {name}: the server answered HTTP {response.status_code}.")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise Unreadable(f"I did not read {name}: it is larger than the limit of {limit:,} bytes.")
                return bytes(data)
            finally:
                response.close()
    except httpx.HTTPError as exc:
        raise Unreadable(f"I could not fetch {name}: {type(exc).__name__}.") from None


def _pinned(url: str, *, allow_private: bool) -> urls.Address:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found: list[urls.Address] = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except OSError as exc:
            raise urls.UnsafeURL(f"the host does not resolve ({exc.strerror or type(exc).__name__})") from None
        found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return urls.first_allowed(found, allow_private=allow_private)
