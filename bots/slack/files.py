"""Files shared with a message: text and documents read into the context, images passed on for vision models.

Each file is fetched with the bot token (Slack's files need it), only from Slack's own hosts, and
only up to a size limit; whatever is skipped or cut becomes a note the user sees with the answer.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse, urlsplit

import httpx

from workers.documents.convert import DEFAULT_LIMITS, SLACK_FILETYPES, Limits, Unreadable, convert, is_document
from workers.events import Attachment
from workers.prompt import MAX_ATTACHMENT_CHARS

log = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-yaml", "application/yaml"}
)
TEXT_FILETYPES = frozenset(
    {"text", "markdown", "csv", "tsv", "json", "yaml", "xml", "html", "css", "python", "javascript", "typescript"}
    | {"shell", "sql", "go", "rust", "java", "kotlin", "c", "cpp", "csharp", "ruby", "php", "diff", "toml", "ini"}
)


def size_label(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True, slots=True)
class Reading:
    attachments: tuple[Attachment, ...]
    notes: tuple[str, ...]


class FileTooLarge(Exception):
    pass


class FileReader:
    def __init__(
        self,
        *,
        text_limit: int,
        image_limit: int,
        max_images: int,
        trusted_hosts: Iterable[str] = (),
        vision: Callable[[], bool] = lambda: True,
        documents: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._text_limit = text_limit
        # PDF, Word, PowerPoint and Excel files: read within the deployment's document limits.
        self._documents = documents
        # Whether any served model sees images (VISION_MODELS): if none does, images are not fetched at all.
        self._vision = vision
        self._image_limit = image_limit
        self._max_images = max_images
        self._hosts = {host.lower() for host in trusted_hosts}

    def read(self, files: Iterable[Mapping[str, Any]], *, token: str) -> Reading:
        attachments: list[Attachment] = []
        notes: list[str] = []
        images = 0
        for file in files:
            name = str(file.get("name") or file.get("title") or "a file")
            mime = str(file.get("mimetype") or "")
            is_image = mime in IMAGE_TYPES
            if is_image and not self._vision():
                notes.append(f"I can't look at images here (no model that sees them is set up); {name} was left out.")
                continue
            if is_image and images >= self._max_images:
                notes.append(f"I look at {self._max_images} images per message at most; {name} was left out.")
                continue
            document = self._is_document(file, name=name, mime=mime)
            try:
                if document:
                    read = self._read_document(file, name=name, mime=mime, token=token, notes=notes)
                else:
                    read = self._read_one(file, name=name, mime=mime, is_image=is_image, token=token)
            except FileTooLarge as exc:
                notes.append(str(exc))
                continue
            if isinstance(read, str):
                notes.append(read)
                continue
            attachments.append(read)
            images += is_image
            if read.text is not None and len(read.text) >= MAX_ATTACHMENT_CHARS and not document:
                notes.append(f"I read only the first {MAX_ATTACHMENT_CHARS:,} characters of {name}.")
        return Reading(tuple(attachments), tuple(notes))

    def _read_one(
        self, file: Mapping[str, Any], *, name: str, mime: str, is_image: bool, token: str
    ) -> Attachment | str:
        """The attachment, or a note saying why this file was not read."""
        filetype = str(file.get("filetype") or "")
        is_text = mime.startswith("text/") or mime in TEXT_TYPES or filetype in TEXT_FILETYPES
        if file.get("mode") == "tombstone" or file.get("file_access") == "check_file_info":
            return f"I could not open {name}."
        if not (is_text or is_image):
            return (
                f"I can't read {name} ({filetype or mime or 'unknown type'}): I read PDF, Word, PowerPoint and Excel "
                "files, text files and images."
            )
        limit = self._image_limit if is_image else self._text_limit
        size = int(file.get("size") or 0)
        if size > limit:
            raise FileTooLarge(
                f"I did not read {name}: it is {size_label(size)}, and I read files up to {size_label(limit)}."
            )
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        data = self._download(url, token=token, limit=limit, name=name, html=mime == "text/html")
        if data is None:
            return f"I could not download {name}."
        if is_image:
            encoded = base64.b64encode(data).decode()
            return Attachment(name=name, mime_type=mime, size=len(data), image=f"data:{mime};base64,{encoded}")
        text = data.decode("utf-8", errors="replace")[:MAX_ATTACHMENT_CHARS]
        return Attachment(name=name, mime_type=mime or "text/plain", size=len(data), text=text)

    @staticmethod
    def _is_document(file: Mapping[str, Any], *, name: str, mime: str) -> bool:
        return is_document(name, mime) or SLACK_FILETYPES.get(str(file.get("filetype") or "")) in {
            "pdf", "docx", "pptx", "xlsx"
        }  # fmt: skip

    def _read_document(
        self, file: Mapping[str, Any], *, name: str, mime: str, token: str, notes: list[str]
    ) -> Attachment | str:
        """A PDF or office file converted to text; what its limits left out is added to `notes`."""
        limit = self._documents.max_bytes
        size = int(file.get("size") or 0)
        if size > limit:
            raise FileTooLarge(
                f"I did not read {name}: it is {size_label(size)}; I read documents up to {size_label(limit)}."
            )
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        data = self._download(url, token=token, limit=limit, name=name, html=False)
        if data is None:
            return f"I could not download {name}."
        try:
            converted = convert(name, data, mime=mime, limits=self._documents)
        except Unreadable as exc:
            return str(exc)
        notes.extend(converted.notes)
        return Attachment(name=name, mime_type=mime or "application/octet-stream", size=len(data), text=converted.text)

    def _trusted(self, url: str) -> bool:
        parsed = urlparse(url)
        host = (parsed.hostname or "").lower()
        if host in self._hosts:
            return True
        return parsed.scheme == "https" and (host == "slack.com" or host.endswith((".slack.com", ".slack-gov.com")))

    def _download(self, url: str, *, token: str, limit: int, name: str, html: bool) -> bytes | None:
        if not url or not self._trusted(url):
            host = urlsplit(url).hostname if url else None
            log.warning("file %s has no Slack download URL (host %r); not fetched with the bot token", name, host)
            return None
        try:
            with (
                # httpx drops the Authorization header if a redirect leaves the host.
                httpx.Client(timeout=20, follow_redirects=True) as http,
                http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response,
            ):
                login_page = not html and "text/html" in response.headers.get("content-type", "")
                if response.status_code != 200 or login_page:
                    # Slack answers a login page, not the file, when the token lacks files:read.
                    log.warning("downloading %s answered %s; is files:read granted?", name, response.status_code)
                    return None
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise FileTooLarge(f"I did not read {name}: it is larger than {size_label(limit)}.")
                return bytes(data)
        except httpx.HTTPError as exc:
            log.warning("downloading %s failed: %s", name, exc)
            return None
