"""`llmos chat`: the terminal surface. Same queue, worker, engine and store as Slack and Discord."""

from __future__ import annotations

import getpass
import mimetypes
import sys
import uuid
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session, sessionmaker

from bots.core.handover import Turned, hand_over
from workers.documents.convert import DEFAULT_LIMITS, Limits, Unreadable, convert, format_of, too_large
from workers.events import Attachment, Event, Platform
from workers.intake import Enqueue
from workers.replybus import ReplyBus, follow
from workers.requests import parse, unusable

TENANT = "local"
CHANNEL = "terminal"


def read_files(paths: Sequence[Path], *, limits: Limits = DEFAULT_LIMITS) -> tuple[list[Attachment], list[str]]:
    """`llmos chat --attach FILE`: each file converted to text, and a note for each thing left out."""
    attachments: list[Attachment] = []
    notes: list[str] = []
    for path in paths:
        mime = mimetypes.guess_type(path.name)[0] or ""
        if format_of(path.name, mime) is None:
            notes.append(f"I can't read {path.name}: I read PDF, Word, PowerPoint, Excel, CSV, HTML and text files.")
            continue
        try:
            size = path.stat().st_size
            if size > limits.max_bytes:
                notes.append(too_large(path.name, size, limits.max_bytes))
                continue
            converted = convert(path.name, path.read_bytes(), mime=mime, limits=limits)
        except OSError as exc:
            notes.append(f"I could not open {path}: {exc.strerror or exc}.")
            continue
        except Unreadable as exc:
            notes.append(str(exc))
            continue
        notes += converted.notes
        attachments.append(Attachment(name=path.name, mime_type=mime or "text/plain", size=size, text=converted.text))
    return attachments, notes


class TerminalChat:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        bus: ReplyBus,
        enqueue: Enqueue,
        user: str | None = None,
        thread: str | None = None,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
        reply_timeout: float = 300.0,
        skills: Collection[str] = (),
        attachments: Sequence[Attachment] = (),
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._enqueue = enqueue
        self.user = user or getpass.getuser()
        self.thread = thread or f"session-{uuid.uuid4().hex[:12]}"
        self._out = out
        self._err = err
        self._timeout = reply_timeout
        # The plugin skills' names, so `/name …` reaches them.
        self._skills = skills
        # Files given with --attach: they go with the first line sent.
        self._attachments = tuple(attachments)

    def event_for(self, line: str) -> Event:
        request = unusable(parse(line, skills=self._skills))
        attachments, self._attachments = self._attachments, ()
        return Event(
            platform=Platform.TERMINAL,
            tenant=TENANT,
            channel=CHANNEL,
            thread=self.thread,
            user=self.user,
            message_id=uuid.uuid4().hex,
            text=request.text,
            kind=request.kind,
            priority=request.priority,
            args=request.args,
            attachments=attachments,
            user_name=self.user,
            tenant_name="this machine",
            channel_name=CHANNEL,
        )

    def ask(self, line: str) -> int:
        """Send one line and print the answer as it streams; 0 when answered, 1 when not."""
        if not line.strip():
            return 0
        event = self.event_for(line)
        handed = hand_over(event, sessions=self._sessions, enqueue=self._enqueue)
        if handed.turned is Turned.UNAVAILABLE:
            print(f"llmos: {handed.message}", file=self._err)
            return 1
        if handed.turned is Turned.REFUSED:
            print(handed.message, file=self._err)
            return 1
        shown = False
        try:
            for item in follow(self._bus, event.key, idle_timeout=self._timeout):
                kind = item.get("type")
                if kind == "delta":
                    self._out.write(item["text"])
                    self._out.flush()
                    shown = True
                elif kind == "status":
                    print(item["text"], file=self._err)
                elif kind == "reset" and shown:
                    self._out.write("\n[the worker restarted; answering again]\n")
                    shown = False
                elif kind == "done":
                    if not shown:
                        self._out.write(item["text"])
                    self._out.write("\n")
                    self._out.flush()
                    return 0
                elif kind == "error":
                    if shown:
                        self._out.write("\n")
                    print(item["text"], file=self._err)
                    return 1
        except TimeoutError:
            print(f"llmos: no answer after {self._timeout:.0f}s; is a worker running?", file=self._err)
        return 1

    def repl(self, stdin: TextIO = sys.stdin) -> int:
        interactive = stdin.isatty()
        if interactive:
            print(
                "LLMOS terminal chat. Type a question, /help for skills and commands, Ctrl-D to leave.", file=self._out
            )
        while True:
            if interactive:
                self._out.write("you> ")
                self._out.flush()
            line = stdin.readline()
            if not line or line.strip() in {"/exit", "/quit"}:
                return 0
            if line.strip():
                if interactive:
                    self._out.write("llmos> ")
                self.ask(line)
