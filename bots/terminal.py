"""`llmos chat`: the terminal surface. Same queue, worker, engine and store as Slack and Discord."""

from __future__ import annotations

import getpass
import mimetypes
import sys
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.orm import Session, sessionmaker

from workers import regenerating
from workers.documents.convert import DEFAULT_LIMITS, Limits, Unreadable, convert, format_of, too_large
from workers.events import Attachment, Event, Platform
from workers.intake import Enqueue, Turned, hand_over
from workers.leases import Leases
from workers.replybus import ReplyBus, follow
from workers.requests import parse, unusable
from workers.stopping import MESSAGES, Asker, Verdict, ask_to_stop, stop_latest

TENANT = "local"
CHANNEL = "terminal"
STOP = "/stop"
REGENERATE = "/regenerate"


@dataclass(slots=True)
class _Reading:
    """How far the terminal got with one answer: bus items handled, and whether text was shown."""

    handled: int = 0
    shown: bool = False


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
        leases: Leases | None = None,
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
        # Where Ctrl-C or `/stop` leaves a stop for the worker answering (None: Ctrl-C just quits).
        self._leases = leases

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
        if line.strip().lower() == STOP:
            return self._stop_latest()
        if line.strip().lower() == REGENERATE:
            return self._regenerate_latest()
        return self._submit(self.event_for(line))

    def _submit(self, event: Event) -> int:
        handed = hand_over(event, sessions=self._sessions, enqueue=self._enqueue)
        if handed.turned is Turned.UNAVAILABLE:
            print(f"llmos: {handed.message}", file=self._err)
            return 1
        if handed.turned is Turned.REFUSED:
            print(handed.message, file=self._err)
            return 1
        reading = _Reading()
        try:
            return self._follow(event.key, reading)
        except KeyboardInterrupt:
            if self._leases is None:
                raise
        # Ctrl-C while the answer streams: stop it, and show the rest of what comes (what was said).
        print("\n[stopping the answer]", file=self._err)
        self._stop(event.key)
        return self._follow(event.key, reading)

    def _stop(self, key: str) -> Verdict:
        assert self._leases is not None
        asker = Asker(platform=str(Platform.TERMINAL), tenant=TENANT, user=self.user)
        verdict = ask_to_stop(self._sessions, self._leases, key=key, asker=asker)
        if verdict is not Verdict.STOPPING:
            print(MESSAGES[verdict], file=self._err)
        return verdict

    def _stop_latest(self) -> int:
        """`/stop`: the newest answer this person is still waiting for here (asked from another terminal)."""
        if self._leases is None:
            print("llmos: stopping is not available here", file=self._err)
            return 1
        asker = Asker(platform=str(Platform.TERMINAL), tenant=TENANT, user=self.user)
        verdict = stop_latest(self._sessions, self._leases, asker=asker, channel=CHANNEL)
        print(MESSAGES[verdict], file=self._err)
        return 0 if verdict is Verdict.STOPPING else 1

    def _regenerate_latest(self) -> int:
        """`/regenerate`: ask this person's last answer in this conversation again."""
        with self._sessions() as session:
            key = regenerating.latest_answer(
                session,
                platform=str(Platform.TERMINAL),
                tenant=TENANT,
                channel=CHANNEL,
                thread=self.thread,
                user=self.user,
            )
        asker = Asker(platform=str(Platform.TERMINAL), tenant=TENANT, user=self.user)
        found = (
            regenerating.again(self._sessions, key=key, asker=asker)
            if key is not None
            else regenerating.Verdict.UNKNOWN
        )
        if not isinstance(found, Event):
            print(regenerating.MESSAGES[found], file=self._err)
            return 1
        return self._submit(found)

    def _follow(self, key: str, reading: _Reading) -> int:
        """Print the answer's items from the bus, skipping those already handled (after a Ctrl-C)."""
        handled = 0
        try:
            for item in follow(self._bus, key, idle_timeout=self._timeout):
                handled += 1
                if handled <= reading.handled:
                    continue
                reading.handled = handled
                done = self._show(item, reading)
                if done is not None:
                    return done
        except TimeoutError:
            print(f"llmos: no answer after {self._timeout:.0f}s; is a worker running?", file=self._err)
        return 1

    def _show(self, item: dict[str, Any], reading: _Reading) -> int | None:
        """Show one bus item; the exit code once the answer is over."""
        kind = item.get("type")
        if kind == "delta":
            self._out.write(item["text"])
            self._out.flush()
            reading.shown = True
        elif kind == "status":
            print(item["text"], file=self._err)
        elif kind == "reset" and reading.shown:
            self._out.write("\n[the worker restarted; answering again]\n")
            reading.shown = False
        elif kind == "done":
            if not reading.shown:
                self._out.write(item["text"])
            self._out.write("\n")
            self._out.flush()
            return 0
        elif kind == "error":
            if reading.shown:
                self._out.write("\n")
            print(item["text"], file=self._err)
            return 1
        return None

    def repl(self, stdin: TextIO = sys.stdin) -> int:
        interactive = stdin.isatty()
        if interactive:
            print(
                "LLMOS terminal chat. Type a question, /help for skills and commands, Ctrl-C stops an answer, "
                "/regenerate asks your last question again, "
                "Ctrl-D leaves.",
                file=self._out,
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
